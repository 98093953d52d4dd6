import Access
import HTTPServer
import Support

/// `/login`, `/logout` and `/api/me`: signing in with a password, a session cookie for the
/// browser, signing out, and who the caller is.
enum SignInRoutes {
    static func add(to router: inout SecuredRouter, pages: Pages?, audit: AuditLog, log: @escaping @Sendable (String) -> Void) {
        let gate = router.gate
        router.add("GET", "/login", access: .public, kind: .page, .immediate { request, caller in
            let next = safeNext(request.head.queryValue("next"))
            if caller.isSignedIn || gate.mode != .local { return redirect(to: next) }
            guard let pages else { throw HTTPError(status: 404, code: "not_found", message: "No sign-in page is installed.") }
            return pages.loginPage(next: next)
        })
        router.add("POST", "/login", access: .public, kind: .page, csrf: .originOnly, .blocking { request, _ in
            try signIn(request, gate: gate, pages: pages, audit: audit, log: log)
        })
        router.add("POST", "/logout", access: .viewer, kind: .page, .immediate { request, caller in
            if let session = caller.session {
                gate.sessions.revoke(session, now: Gatekeeper.now())
                audit.record(kind: "sign_out", actor: caller.principal.name, subject: caller.principal.name, address: caller.address,
                             detail: "signed out")
            }
            var response = redirect(to: "/login")
            response.headers.add("Set-Cookie", cookie("", maxAge: 0, secure: gate.secureCookies(for: request)))
            return response
        })
        router.add("GET", "/api/me", access: .viewer, .immediate { _, caller in
            var json = JSONWriter()
            json.beginObject()
            json.field("user", caller.principal.name)
            json.field("role", caller.principal.role.rawValue)
            json.key("regions")
            json.beginArray()
            for region in caller.principal.regions.list { json.value(region) }
            json.endArray()
            json.field("mode", gate.mode.rawValue)
            json.field("csrf", caller.csrfToken)
            json.endObject()
            var response = HTTPResponse.json(200, json.bytes)
            response.headers.add("Cache-Control", "no-store")
            return response
        })
    }

    /// POST /login: `username`, `password`, `next` as a form.
    private static func signIn(_ request: HTTPRequest, gate: Gatekeeper, pages: Pages?, audit: AuditLog,
                               log: @Sendable (String) -> Void) throws -> HTTPResponse {
        let wantsJSON = (request.head.headers["accept"] ?? "").lowercased().contains("application/json")
        guard gate.mode == .local, let users = gate.users else {
            if wantsJSON {
                throw HTTPError(status: 400, code: "no_sign_in", message: "auth.mode is \(gate.mode.rawValue): there is nothing to sign in to")
            }
            return redirect(to: "/")
        }
        guard let form = FormURLEncoded.parse(request.body) else {
            throw PortalError.badRequest(code: "bad_form", message: "the sign-in form is not valid form data")
        }
        func field(_ name: String) -> String { form.first { $0.name == name }?.value ?? "" }
        let username = field("username").trimmingSpaces(), password = field("password")
        let next = safeNext(field("next"))
        let address = request.clientAddress
        let now = Gatekeeper.now()
        func refuse(_ status: Int, code: String, message: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
            if !wantsJSON, let pages {
                var page = pages.loginPage(next: next, username: username, error: message, status: status)
                for (name, value) in headers { page.headers.add(name, value) }
                return page
            }
            return HTTPError(status: status, code: code, message: message, extraHeaders: headers).response
        }
        if let wait = gate.throttle.retryAfter(user: username, address: address, now: now) {
            log("sign-in refused for \"\(username)\" from \(address): too many failures, \(wait) s to wait")
            audit.record(kind: "sign_in_failed", actor: username, subject: username, address: address,
                         detail: "refused without a check: too many failures, \(wait) s to wait")
            return refuse(429, code: "too_many_attempts", message: "Too many failed sign-ins. Try again in \(minutes(wait)).",
                          headers: ["Retry-After": String(wait)])
        }
        let account = username.isEmpty ? nil : users.account(named: username)
        let matches: Bool
        if let hash = account?.password {
            matches = Secrets.verifyPassword(password, hash: hash)
        } else {
            // The same work for an unknown user, so the answer's timing does not tell who exists.
            Secrets.burnPasswordCheck(password)
            matches = false
        }
        guard matches, let account else {
            gate.throttle.recordFailure(user: username, address: address, now: now)
            log("sign-in failed for \"\(username)\" from \(address)")
            audit.record(kind: "sign_in_failed", actor: username, subject: username, address: address,
                         detail: account == nil ? "no such user" : "wrong password")
            return refuse(401, code: "bad_credentials", message: "The user name or password is wrong.")
        }
        gate.throttle.recordSuccess(user: username, address: address)
        let issued = gate.sessions.issue(user: account.name, credentialTag: SessionSigner.credentialTag(passwordHash: account.password),
                                         now: now)
        log("signed in: \(account.name) from \(address)")
        audit.record(kind: "sign_in", actor: account.name, subject: account.name, address: address, detail: "signed in")
        let setCookie = cookie(issued.cookie, maxAge: gate.sessions.lifetimeSeconds, secure: gate.secureCookies(for: request))
        if wantsJSON {
            var json = JSONWriter()
            json.beginObject()
            json.field("user", account.name)
            json.field("role", account.role.rawValue)
            json.key("regions")
            json.beginArray()
            for region in account.scope.list { json.value(region) }
            json.endArray()
            json.field("csrf", gate.sessions.csrfToken(sessionID: "session " + issued.session.id))
            json.endObject()
            var response = HTTPResponse.json(200, json.bytes)
            response.headers.add("Set-Cookie", setCookie)
            response.headers.add("Cache-Control", "no-store")
            return response
        }
        var response = redirect(to: next)
        response.headers.add("Set-Cookie", setCookie)
        return response
    }

    /// `sp_session=…; Path=/; HttpOnly; SameSite=Strict; Max-Age=…[; Secure]`.
    static func cookie(_ value: String, maxAge: Int64, secure: Bool) -> String {
        "\(Gatekeeper.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    /// A 303 to a path of this site.
    static func redirect(to path: String) -> HTTPResponse {
        HTTPResponse(status: 303, headers: ["Location": path, "Cache-Control": "no-store", "Content-Type": "text/plain; charset=utf-8"],
                     body: Array("See \(path)\n".utf8))
    }

    /// Where to go after signing in: a path of this site, never another site (`//evil`, `/\evil`) nor the sign-in page.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"), !next.hasPrefix("/login"),
              next.utf8.allSatisfy({ $0 > 32 && $0 != 127 && $0 != UInt8(ascii: "\\") }), next.utf8.count <= 2048
        else { return "/" }
        return next
    }

    private static func minutes(_ seconds: Int) -> String {
        seconds < 90 ? "\(seconds) seconds" : "\((seconds + 59) / 60) minutes"
    }
}

extension Gatekeeper {
    /// `Secure` on cookies unless the browser is on this machine over plain HTTP.
    func secureCookies(for request: HTTPRequest) -> Bool {
        behindTLS || (request.peer >> 24) != 127
    }
}
