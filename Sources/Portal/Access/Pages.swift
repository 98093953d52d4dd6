import Access
import Foundation
import HTTPServer

/// The pages people open (`/`, `/dashboard`, `/login`), read once from the Public folder and
/// filled in per request: who is signed in, the sign-out form, the CSRF token, the regions the
/// user may upload for. Marked places in the HTML are `<!--name-->` comments, or
/// `<!--name-->…<!--/name-->` for a part that is replaced whole.
struct Pages: Sendable {
    /// The files of the Public folder that are templates, never served as they are.
    static let templateNames: Set<String> = ["index.html", "dashboard.html", "login.html", "audit.html"]

    private let upload: String
    private let dashboard: String
    private let login: String
    private let audit: String
    private let regions: [RegionConfig]
    private let mode: Gatekeeper.Mode

    init(publicDir: String, regions: [RegionConfig], mode: Gatekeeper.Mode) throws {
        func read(_ name: String) throws -> String {
            let path = publicDir + "/" + name
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw PortalError.storage("cannot read the page \(path)")
            }
            return text
        }
        upload = try read("index.html")
        dashboard = try read("dashboard.html")
        login = try read("login.html")
        audit = try read("audit.html")
        self.regions = regions
        self.mode = mode
    }

    /// The upload page: the upload form offers the caller's regions; a viewer is told it cannot upload.
    func uploadPage(_ caller: Caller) -> HTTPResponse {
        var html = common(upload, caller)
        let allowed = regions.filter { caller.mayAccess(region: $0.code) }
        var options = allowed.count > 1 || caller.principal.regions == .all ? [#"<option value="">From the file name</option>"#] : []
        for region in allowed {
            options.append(#"<option value="\#(escape(region.code))">\#(escape(region.code)) (\#(escape(Self.displayName(region))))</option>"#)
        }
        html = Self.replacing(block: "regions", in: html, with: options.joined(separator: "\n          "))
        if !caller.principal.has(.uploader) {
            html = Self.replacing(block: "upload", in: html, with: """
                <p class="card notice" id="cannot-upload">Your account (\(escape(caller.principal.name)), a viewer) can read the
                  <a href="/dashboard">dashboard</a> but not upload files. Ask an admin for the uploader role.</p>
                """)
        }
        return page(html)
    }

    /// The dashboard.
    func dashboardPage(_ caller: Caller) -> HTTPResponse {
        page(common(dashboard, caller))
    }

    /// The audit trail (admins).
    func auditPage(_ caller: Caller) -> HTTPResponse {
        page(common(audit, caller))
    }

    /// The sign-in form; `next` is where a successful sign-in goes.
    func loginPage(next: String, username: String = "", error: String? = nil, status: Int = 200) -> HTTPResponse {
        var html = login
        html = html.replacingOccurrences(of: "<!--next-->", with: #"<input type="hidden" name="next" value="\#(escape(next))">"#)
        html = html.replacingOccurrences(of: "<!--username-->", with: escape(username))
        let message = error.map { #"<p id="login-error" class="login-error" role="alert">\#(escape($0))</p>"# } ?? ""
        html = html.replacingOccurrences(of: "<!--error-->", with: message)
        return page(html, status: status)
    }

    private func common(_ template: String, _ caller: Caller) -> String {
        var html = template
        html = html.replacingOccurrences(of: "<!--csrf-meta-->", with: #"<meta name="csrf-token" content="\#(escape(caller.csrfToken))">"#
            + #"<meta name="user-regions" content="\#(escape(caller.principal.regions.list.joined(separator: ",")))">"#
            + #"<meta name="user-name" content="\#(escape(caller.principal.name))">"#
            + #"<meta name="user-role" content="\#(escape(caller.principal.role.rawValue))">"#)
        html = html.replacingOccurrences(of: "<!--csrf-field-->", with: #"<input type="hidden" name="csrf" value="\#(escape(caller.csrfToken))">"#)
        let account: String
        if mode == .none {
            account = ""
        } else {
            let regions = caller.principal.regions.list.joined(separator: ", ")
            let signOut = caller.principal.method == .session ? """
                <form id="sign-out-form" class="sign-out" method="post" action="/logout">\
                <input type="hidden" name="csrf" value="\(escape(caller.csrfToken))">\
                <button type="submit" id="sign-out" class="button button-quiet">Sign out</button></form>
                """ : ""
            account = """
                <div class="account"><span class="account-name">Signed in as <strong id="signed-in-user">\(escape(caller.principal.name))</strong>
                <span class="account-role">\(escape(caller.principal.role.rawValue)) · \(escape(regions))</span></span>\(signOut)</div>
                """
        }
        html = html.replacingOccurrences(
            of: "<!--admin-nav-->", with: caller.principal.has(.admin) ? #"<li><a href="/audit">Audit</a></li>"# : "")
        return html.replacingOccurrences(of: "<!--account-->", with: account)
    }

    private func page(_ html: String, status: Int = 200) -> HTTPResponse {
        var response = HTTPResponse.html(status, html)
        response.headers.add("Cache-Control", "no-store")
        return response
    }

    /// `IN (India)`: the longest alias, in title case.
    static func displayName(_ region: RegionConfig) -> String {
        guard let alias = region.aliases.max(by: { $0.count < $1.count }) else { return region.code }
        return alias.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: " ")
    }

    /// Replaces `<!--name-->…<!--/name-->` (markers included) with `replacement`.
    static func replacing(block name: String, in html: String, with replacement: String) -> String {
        guard let start = html.range(of: "<!--\(name)-->"), let end = html.range(of: "<!--/\(name)-->", range: start.upperBound..<html.endIndex)
        else { return html }
        return html.replacingCharacters(in: start.lowerBound..<end.upperBound, with: replacement)
    }

    private func escape(_ text: String) -> String { UploadHTML.escape(text) }
}
