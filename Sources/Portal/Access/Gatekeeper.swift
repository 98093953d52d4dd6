import Access
import Foundation
import HTTPServer
import Support
import Synchronization

/// Decides, for each request, who is calling and whether they may: the `Host` rule, the
/// credentials of the configured mode, the route's role, and the CSRF rules for browsers.
final class Gatekeeper: Sendable {
    /// `auth.mode`.
    enum Mode: String, Sendable {
        case none, local, iap
    }

    /// The session cookie's name.
    static let cookieName = "sp_session"
    /// The header IAP adds to every request it lets through.
    static let iapHeader = "x-goog-iap-jwt-assertion"

    let mode: Mode
    let users: UserDirectory?
    let sessions: SessionSigner
    let iap: IAPVerifier?
    let throttle: LoginThrottle
    let hosts: AllowedHosts
    /// Cookies are marked `Secure` unless the peer is on loopback and the site is not behind TLS.
    let behindTLS: Bool

    init(mode: Mode, users: UserDirectory?, sessions: SessionSigner, iap: IAPVerifier?, throttle: LoginThrottle,
         hosts: AllowedHosts, behindTLS: Bool) {
        self.mode = mode
        self.users = users
        self.sessions = sessions
        self.iap = iap
        self.throttle = throttle
        self.hosts = hosts
        self.behindTLS = behindTLS
    }

    /// Seconds since 1970.
    static func now() -> Int64 { Int64(time(nil)) }

    // MARK: - Admission

    /// Admits a request to a route, or throws the answer that refuses it.
    func admit(_ request: HTTPRequest, _ route: RouteDeclaration) throws(HTTPError) -> Caller {
        let head = request.head
        if route.checksHost { try hosts.check(head.headers["host"]) }
        if let name = head.undecodableQueryParameter {
            // A filter that does not decode must never silently mean "no filter".
            throw HTTPError(status: 400, code: "bad_query",
                            message: "the query parameter \(JSONWriter.quoted(name)) does not decode (a bad %XX escape, NUL, or not UTF-8)")
        }
        if let name = head.repeatedQueryParameter {
            throw HTTPError(status: 400, code: "repeated_query_parameter",
                            message: "the query parameter \(JSONWriter.quoted(name)) is given more than once; give it once")
        }
        // A public route serves anyone: credentials that do not check out are ignored there.
        var caller = route.access == .public ? (try? identify(request)) ?? nil : try identify(request)
        if let role = route.access.role {
            guard let admitted = caller else { throw unauthenticated(head, route) }
            guard admitted.principal.has(role) else {
                throw HTTPError(status: 403, code: "forbidden",
                                message: "\(admitted.principal.name) is \(Self.withArticle(admitted.principal.role)); this needs \(Self.withArticle(role)) or more")
            }
        }
        if !Self.isSafe(head.method) {
            try checkOrigin(head, caller: caller)
            if route.csrf != .originOnly, var admitted = caller, needsToken(head, admitted) {
                if let token = head.headers["x-csrf-token"] {
                    guard sessions.checkCSRFToken(token, sessionID: sessionKey(admitted)) else {
                        throw Self.csrfError("the X-CSRF-Token header is wrong: reload the page and try again")
                    }
                } else if Self.isURLEncodedForm(head) {
                    let field = FormURLEncoded.parse(request.body)?.first { $0.name == "csrf" }?.value
                    guard let field, sessions.checkCSRFToken(field, sessionID: sessionKey(admitted)) else {
                        throw Self.csrfError("the form's CSRF token is missing or wrong: reload the page and try again")
                    }
                } else if route.csrf == .originAndTokenOrFormField,
                          head.headers["content-type"].map({ $0.lowercased().hasPrefix("multipart/form-data") }) == true {
                    admitted.csrfPending = true
                    caller = admitted
                } else {
                    throw Self.csrfError("a browser's request must carry the X-CSRF-Token header")
                }
            }
        }
        return caller ?? Caller(principal: Principal(name: "", role: .viewer, regions: .only([]), method: .none),
                                session: nil, address: request.clientAddress, csrfPending: false)
    }

    /// Who the request comes from: nil without credentials; throws for credentials that are wrong.
    func identify(_ request: HTTPRequest) throws(HTTPError) -> Caller? {
        let head = request.head
        let address = request.clientAddress
        if mode == .none { return caller(.anonymous, session: nil, address: address) }
        if let authorization = head.headers["authorization"] {
            guard authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
                throw bearerError("send an API token as \"Authorization: Bearer TOKEN\"")
            }
            let token = String(authorization.dropFirst(7)).trimmingSpaces()
            guard let found = users?.account(forToken: token) else {
                throw bearerError("the API token is not valid (revoked, or never issued)")
            }
            let account = found.account
            return caller(Principal(name: account.name, role: account.role, regions: account.scope, method: .bearer),
                          session: nil, address: address)
        }
        if mode == .iap {
            guard let assertion = head.headers[Self.iapHeader], let iap else { return nil }
            let email: String
            do { email = try iap.verify(assertion, now: Self.now()) } catch {
                throw HTTPError(status: 401, code: "unauthenticated", message: "\(error)")
            }
            guard let account = users?.account(named: email) else {
                throw HTTPError(status: 403, code: "forbidden", message: "\(email) is not a user of this portal; ask an admin to add it")
            }
            return caller(Principal(name: account.name, role: account.role, regions: account.scope, method: .iap),
                          session: nil, address: address)
        }
        guard let cookie = Self.cookie(Self.cookieName, in: head), let session = sessions.verify(cookie, now: Self.now()),
              let account = users?.account(named: session.user),
              SessionSigner.credentialTag(passwordHash: account.password) == session.credentialTag
        else { return nil }
        return caller(Principal(name: account.name, role: account.role, regions: account.scope, method: .session),
                      session: session, address: address)
    }

    private func caller(_ principal: Principal, session: Session?, address: String) -> Caller {
        var caller = Caller(principal: principal, session: session, address: address, csrfPending: false)
        caller.csrfBinding = sessionKey(caller)
        caller.csrfSigner = sessions
        return caller
    }

    /// What a CSRF token is bound to: the session, the IAP user, or the anonymous form.
    private func sessionKey(_ caller: Caller) -> String {
        switch caller.principal.method {
        case .session: "session " + (caller.session?.id ?? "")
        case .iap: "iap " + caller.principal.name.lowercased()
        case .bearer: "bearer " + caller.principal.name
        case .none: "anonymous"
        }
    }

    // MARK: - CSRF

    static func isSafe(_ method: String) -> Bool { method == "GET" || method == "HEAD" || method == "OPTIONS" }

    private static func isURLEncodedForm(_ head: HTTPRequestHead) -> Bool {
        head.headers["content-type"]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
    }

    /// Browsers always say where a request comes from (Origin on every POST; Referer with our
    /// `Referrer-Policy: same-origin`): it must be this site. Scripts with a token are exempt;
    /// a request naming no origin at all is refused only when a browser credential carries it.
    private func checkOrigin(_ head: HTTPRequestHead, caller: Caller?) throws(HTTPError) {
        if caller?.principal.method == .bearer { return }
        let host = head.headers["host"]?.lowercased() ?? ""
        if let origin = head.headers["origin"] {
            guard let originHost = Self.hostPart(ofURL: origin), originHost == host else {
                throw Self.csrfError("this request comes from another site (\(origin)); it is refused")
            }
            return
        }
        if let referer = head.headers["referer"] {
            guard let refererHost = Self.hostPart(ofURL: referer), refererHost == host else {
                throw Self.csrfError("this request comes from another page's site; it is refused")
            }
            return
        }
        if let method = caller?.principal.method, method == .session || method == .iap {
            throw Self.csrfError("a browser's request must say where it comes from (Origin)")
        }
    }

    /// Browsers' requests need the token: with a session or an IAP identity always, and with
    /// access control off whenever the request names its origin (a page of ours sent it).
    private func needsToken(_ head: HTTPRequestHead, _ caller: Caller) -> Bool {
        switch caller.principal.method {
        case .bearer: false
        case .session, .iap: true
        case .none: head.headers["origin"] != nil || head.headers["referer"] != nil
        }
    }

    /// `host[:port]` of an absolute http(s) URL, lower-cased; nil otherwise.
    static func hostPart(ofURL url: String) -> String? {
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") { rest = lower.dropFirst(7) } else if lower.hasPrefix("https://") { rest = lower.dropFirst(8) } else { return nil }
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let host = rest[..<end]
        return host.isEmpty || host.contains("@") ? nil : String(host)
    }

    /// "a viewer", "an uploader", "an admin".
    static func withArticle(_ role: Role) -> String {
        role == .viewer ? "a viewer" : "an \(role.rawValue)"
    }

    static func csrfError(_ message: String) -> HTTPError {
        HTTPError(status: 403, code: "csrf", message: message)
    }

    // MARK: - Answers without credentials

    private func unauthenticated(_ head: HTTPRequestHead, _ route: RouteDeclaration) -> HTTPError {
        if route.kind == .page {
            return HTTPError(status: 303, code: "sign_in", message: "Sign in first.",
                             extraHeaders: ["Location": "/login?next=" + PercentEncoding.encode(head.target, keeping: [UInt8(ascii: "/")]), "Cache-Control": "no-store"])
        }
        let message = switch mode {
        case .iap: "this portal is behind Identity-Aware Proxy: the request carries no valid IAP assertion or API token"
        default: "sign in, or send an API token as \"Authorization: Bearer TOKEN\""
        }
        return HTTPError(status: 401, code: "unauthenticated", message: message,
                         extraHeaders: ["WWW-Authenticate": #"Bearer realm="sales-portal""#])
    }

    private func bearerError(_ message: String) -> HTTPError {
        HTTPError(status: 401, code: "unauthenticated", message: message,
                  extraHeaders: ["WWW-Authenticate": #"Bearer realm="sales-portal", error="invalid_token""#])
    }

    /// The value of a cookie of the request.
    static func cookie(_ name: String, in head: HTTPRequestHead) -> String? {
        for header in head.headers.values(for: "cookie") {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                if pair.count == 2, String(pair[0]).trimmingSpaces() == name { return String(pair[1]).trimmingSpaces() }
            }
        }
        return nil
    }

}

/// The `Host` values the portal answers to; anything else is 421, so a name that an attacker
/// points at this address (DNS rebinding) reads nothing.
final class AllowedHosts: Sendable {
    private let configured: [String]
    private let boundHost: String
    private let port = Atomic<Int>(0)

    init(configured: [String], boundHost: String) {
        self.configured = configured.map { $0.lowercased() }
        self.boundHost = boundHost.lowercased()
    }

    /// Sets the port the server was bound to (known after `start`).
    func bound(port: Int) { self.port.store(port, ordering: .releasing) }

    /// The default list: the bound address, `localhost`, `127.0.0.1`, `[::1]`, with the port.
    var entries: [String] {
        if !configured.isEmpty { return configured }
        let port = self.port.load(ordering: .acquiring)
        return [boundHost, "localhost", "127.0.0.1", "[::1]"].map { "\($0):\(port)" }
    }

    func check(_ host: String?) throws(HTTPError) {
        guard let host, allows(host) else {
            throw HTTPError(status: 421, code: "misdirected_request",
                            message: "this server does not answer for host \"\(host ?? "")\"; see server.allowedHosts")
        }
    }

    func allows(_ value: String) -> Bool {
        let host = value.lowercased()
        let (name, explicitPort) = Self.split(host)
        let port = explicitPort ?? 80
        for entry in entries {
            let (entryName, entryPort) = Self.split(entry)
            if entryName == name && (entryPort == nil || entryPort == port) { return true }
        }
        return false
    }

    /// `name` and port of `name:port`, `[v6]:port`, `name`.
    static func split(_ host: String) -> (String, Int?) {
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return (host, nil) }
            let name = String(host[...close])
            let rest = host[host.index(after: close)...]
            return (name, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        guard let colon = host.lastIndex(of: ":") else { return (host, nil) }
        return (String(host[..<colon]), Int(host[host.index(after: colon)...]))
    }
}
