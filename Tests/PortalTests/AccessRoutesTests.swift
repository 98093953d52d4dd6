import Access
import ETL
import Foundation
import HTTPServer
import Testing
@testable import Portal

/// Every route is declared with who may call it, and the gate answers as the README's access
/// control ("Running it for a team") says — here in memory; the integration tests ask the same over a real socket.
@Suite struct AccessRoutesTests {
    let root: String
    let config: PortalConfig
    let routes: SecuredRouter
    let gate: Gatekeeper
    let viewerToken: String
    let adminToken: String

    init() throws {
        root = try temporaryDirectory()
        var config = PortalConfig()
        config.storage.dataDir = root
        config.auth.mode = "local"
        config.server.port = 8080
        self.config = config
        for (name, role, regions) in [("root", "admin", "*"), ("ina", "viewer", "IN")] {
            _ = try AccountCommands.addUser(config: config, name: name, role: role, regions: regions, password: nil)
        }
        adminToken = try AccountCommands.createToken(config: config, user: "root", label: nil)
        viewerToken = try AccountCommands.createToken(config: config, user: "ina", label: "ci")
        let processor = try PortalApp.makeProcessor(config: config)
        (routes, gate) = try PortalApp.makeRoutes(config: config, processor: processor)
        gate.hosts.bound(port: 8080)
    }

    @Test func aPasswordResetKeepsTheRegionsAndRole() throws {
        _ = try AccountCommands.addUser(config: config, name: "ina", role: nil, regions: nil, password: "a new long passphrase")
        let users = try UsersFile.read(Gatekeeper.usersFilePath(config))
        let ina = try #require(users.users.first { $0.name == "ina" })
        #expect(ina.regions == ["IN"] && ina.role == .viewer && ina.password != nil)
        #expect(throws: AccessError.self) { try AccountCommands.addUser(config: config, name: "newbie", role: "uploader", regions: nil, password: nil) }
        #expect(throws: AccessError.self) { try AccountCommands.addUser(config: config, name: "newbie", role: nil, regions: "IN", password: nil) }
        _ = try AccountCommands.addUser(config: config, name: "boss", role: "admin", regions: nil, password: nil)
        #expect(try UsersFile.read(Gatekeeper.usersFilePath(config)).users.first { $0.name == "boss" }?.regions == ["*"])
    }

    @Test func everyRouteOfTheRouterIsDeclared() {
        let routed = Set(routes.built.routes.map { "\($0.method) \($0.pattern)" })
        let declared = Set(routes.declarations.map { "\($0.method) \($0.pattern)" })
        #expect(!routed.isEmpty)
        #expect(routed == declared)
    }

    @Test func onlyTheKnownRoutesAreOpenToAll() {
        let open = Set(routes.declarations.filter { $0.access == .public }.map { "\($0.method) \($0.pattern)" })
        #expect(open == ["GET /healthz", "GET /readyz", "GET /login", "POST /login", "GET /{path...}", "POST /api/events/gcs"])
        #expect(routes.declarations.first { $0.pattern == "/{path...}" }?.kind == .asset)
        let changing = routes.declarations.filter { !Gatekeeper.isSafe($0.method) && $0.access == .public }
        #expect(Set(changing.map(\.pattern)) == ["/login", "/api/events/gcs"],
                "the sign-in form and the bucket notifications (which prove themselves with Google's token) are the only changes open to all")
        #expect(routes.declarations.first { $0.pattern == "/api/events/gcs" }?.checksHost == true)
    }

    func request(_ method: String, _ target: String, _ headers: [(String, String)] = [], body: String = "") -> HTTPRequest {
        var all = HTTPHeaders([("Host", "127.0.0.1:8080")])
        for (name, value) in headers { all.replaceOrAdd(name, value) }
        return HTTPRequest(head: HTTPRequestHead(method: method, target: target, headers: all), body: Array(body.utf8))
    }

    func declaration(_ method: String, _ pattern: String) throws -> RouteDeclaration {
        try #require(routes.declarations.first { $0.method == method && $0.pattern == pattern })
    }

    func status(_ request: HTTPRequest, _ route: RouteDeclaration) -> Int {
        do {
            _ = try gate.admit(request, route)
            return 200
        } catch {
            return error.status
        }
    }

    @Test func withoutCredentialsAnAPIRouteIs401AndAPageIsARedirectToSignIn() throws {
        let summary = try declaration("GET", "/api/report/summary")
        #expect(status(request("GET", "/api/report/summary"), summary) == 401)
        do {
            _ = try gate.admit(request("GET", "/dashboard?region=IN"), try declaration("GET", "/dashboard"))
            Issue.record("admitted without credentials")
        } catch let error as HTTPError {
            #expect(error.status == 303)
            #expect(error.extraHeaders["Location"] == "/login?next=/dashboard%3Fregion%3DIN")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(status(request("GET", "/healthz"), try declaration("GET", "/healthz")) == 200)
    }

    @Test func tokensGiveTheirUsersRoleAndAWrongTokenIs401() throws {
        let upload = try declaration("POST", "/api/uploads")
        #expect(status(request("POST", "/api/uploads", [("Authorization", "Bearer \(viewerToken)")]), upload) == 403)
        #expect(status(request("POST", "/api/uploads", [("Authorization", "Bearer \(adminToken)")]), upload) == 200)
        #expect(status(request("GET", "/api/me", [("Authorization", "Bearer spt_wrong")]), try declaration("GET", "/api/me")) == 401)
        #expect(status(request("GET", "/api/me", [("Authorization", "Basic cm9vdDp4")]), try declaration("GET", "/api/me")) == 401)
    }

    @Test func aQueryThatDoesNotDecodeIs400NeverNoFilter() throws {
        let summary = try declaration("GET", "/api/report/summary")
        let auth = ("Authorization", "Bearer \(adminToken)")
        for query in ["region=IN%00", "region=%ZZ", "region=%", "region=%C3%28", "%ZZ=1"] {
            #expect(status(request("GET", "/api/report/summary?\(query)", [auth]), summary) == 400, "\(query)")
        }
        #expect(status(request("GET", "/api/report/summary?region=IN&country=United+Kingdom", [auth]), summary) == 200)
    }

    @Test func aQueryParameterGivenTwiceIs400NotAGuessAtWhichCounts() throws {
        let summary = try declaration("GET", "/api/report/summary")
        let auth = ("Authorization", "Bearer \(adminToken)")
        for query in ["region=IN&region=UK", "region=&region=IN", "limit=&limit=%60", "region=IN&%72egion=UK"] {
            #expect(status(request("GET", "/api/report/summary?\(query)", [auth]), summary) == 400, "\(query)")
        }
        #expect(status(request("GET", "/api/report/summary?region=IN&regions=UK", [auth]), summary) == 200)
    }

    @Test func aHostThatIsNotOursIs421ExceptForHealthChecks() throws {
        let me = try declaration("GET", "/api/me")
        let auth = ("Authorization", "Bearer \(adminToken)")
        #expect(status(request("GET", "/api/me", [auth, ("Host", "rebound.example:8080")]), me) == 421)
        #expect(status(request("GET", "/api/me", [auth, ("Host", "localhost:8080")]), me) == 200)
        #expect(status(request("GET", "/api/me", [auth, ("Host", "[::1]:8080")]), me) == 200)
        #expect(status(request("GET", "/api/me", [auth, ("Host", "127.0.0.1:9999")]), me) == 421)
        #expect(status(request("GET", "/healthz", [("Host", "10.1.2.3")]), try declaration("GET", "/healthz")) == 200)
    }

    @Test func aSessionCookiesChangeNeedsOurOriginAndTheToken() throws {
        let (session, cookie) = gate.sessions.issue(
            user: "root", credentialTag: SessionSigner.credentialTag(passwordHash: nil), now: Gatekeeper.now())
        let token = gate.sessions.csrfToken(sessionID: "session " + session.id)
        let logout = try declaration("POST", "/logout")
        let cookieHeader = ("Cookie", "other=1; \(Gatekeeper.cookieName)=\(cookie)")
        let form = ("Content-Type", "application/x-www-form-urlencoded")
        let ours = ("Origin", "http://127.0.0.1:8080")
        #expect(status(request("POST", "/logout", [cookieHeader, ours, form], body: "csrf=\(token)"), logout) == 200)
        #expect(status(request("POST", "/logout", [cookieHeader, ours, form], body: "csrf=nope"), logout) == 403)
        #expect(status(request("POST", "/logout", [cookieHeader, ours, ("X-CSRF-Token", token)]), logout) == 200)
        #expect(status(request("POST", "/logout", [cookieHeader, ("Origin", "http://evil.example"), ("X-CSRF-Token", token)]),
                       logout) == 403)
        #expect(status(request("POST", "/logout", [cookieHeader, ("Referer", "http://evil.example/x"), ("X-CSRF-Token", token)]),
                       logout) == 403)
        #expect(status(request("POST", "/logout", [cookieHeader, ("X-CSRF-Token", token)]), logout) == 403,
                "a cookie-borne change must name its origin")
        // A streamed form's token is checked by its handler.
        let caller = try gate.admit(request("POST", "/api/uploads", [cookieHeader, ours, ("Content-Type", "multipart/form-data; boundary=x")]),
                                    try declaration("POST", "/api/uploads"))
        #expect(caller.csrfPending)
        #expect(throws: HTTPError.self) { try caller.checkCSRF(formField: nil) }
        #expect(throws: Never.self) { try caller.checkCSRF(formField: token) }
        // Only a route whose handler reads the form may defer the token to it: a multipart body
        // does not let a forged logout or retraction through.
        let multipart = ("Content-Type", "multipart/form-data; boundary=x")
        #expect(status(request("POST", "/logout", [cookieHeader, ours, multipart]), logout) == 403)
        #expect(status(request("DELETE", "/api/uploads/u1", [cookieHeader, ours, multipart]),
                       try declaration("DELETE", "/api/uploads/{id}")) == 403)
    }

    @Test func aRegionOutsideTheCallersListIsRefusedAndNoRegionMeansTheirs() throws {
        let caller = try gate.admit(request("GET", "/api/report/summary", [("Authorization", "Bearer \(viewerToken)")]),
                                    try declaration("GET", "/api/report/summary"))
        #expect(try ReportRoutes.scoped(ReportFilter(), caller).allowedRegions == ["IN"])
        #expect(try ReportRoutes.scoped(ReportFilter(region: "IN"), caller).allowedRegions == nil)
        #expect(throws: HTTPError(status: 403, code: "region_forbidden", message: "ina may not see region UK; allowed: IN")) {
            _ = try ReportRoutes.scoped(ReportFilter(region: "UK"), caller)
        }
    }

    @Test func nextAfterSignInStaysOnThisSite() {
        #expect(SignInRoutes.safeNext("/dashboard?region=IN") == "/dashboard?region=IN")
        for next in [nil, "", "https://evil.example/", "//evil.example", "/\\evil.example", "/login?next=/x", "javascript:alert(1)"] {
            #expect(SignInRoutes.safeNext(next) == "/", "\(next ?? "nil")")
        }
    }
}
