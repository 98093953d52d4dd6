import Access
import Dispatch
import HTTPServer

/// Who may call a route.
enum RouteAccess: String, Sendable, CaseIterable {
    /// Anyone, signed in or not.
    case `public`
    /// Any signed-in user (viewers and up).
    case viewer
    /// Uploaders and admins.
    case uploader
    /// Admins only.
    case admin

    /// The least role allowed; nil for public routes.
    var role: Role? {
        switch self {
        case .public: nil
        case .viewer: .viewer
        case .uploader: .uploader
        case .admin: .admin
        }
    }
}

/// What a route answers, which decides how a caller without credentials is told.
enum RouteKind: String, Sendable {
    /// JSON: 401 with `WWW-Authenticate: Bearer`.
    case api
    /// A page: 303 to the sign-in page, coming back afterwards.
    case page
    /// A static file, open to all.
    case asset
}

/// How a route is limited to the caller's regions (for the route × role × region checks).
enum RegionBinding: String, Sendable {
    /// Not about a region.
    case none
    /// Report filters: `?region=` outside the caller's list is 403; without it, only the caller's regions.
    case query
    /// A `{region}` path segment outside the caller's list is 403.
    case path
    /// An upload id: records of other regions are not found.
    case record
    /// An upload: a file for a region outside the caller's list is refused, nothing stored.
    case upload
}

/// How a state-changing route guards against requests forged by other sites.
enum CSRFRule: Sendable {
    /// Origin (or Referer) must be ours, and a browser's request must carry the CSRF token.
    case originAndToken
    /// As `originAndToken`, and a browser's multipart form may carry the token as its `csrf`
    /// field instead: the handler reads the form and calls `Caller.checkCSRF` (the upload form).
    case originAndTokenOrFormField
    /// Origin (or Referer) must be ours when given; no token (the sign-in form, before any session).
    case originOnly
}

/// One route as declared: method, pattern, who may call it, and its handler.
struct RouteDeclaration: Sendable {
    var method: String
    var pattern: String
    var access: RouteAccess
    var kind: RouteKind
    var regions: RegionBinding
    /// Whether the `Host` header is checked (not for health checks, which load balancers send by address).
    var checksHost: Bool
    var csrf: CSRFRule
}

/// The caller of a request, as the gate admitted it.
struct Caller: Sendable {
    var principal: Principal
    /// The browser session, when the request came with the session cookie.
    var session: Session?
    /// What the caller's CSRF token is bound to (`Gatekeeper.sessionKey`), and who signs it;
    /// nil signer: no token (a caller without credentials).
    var csrfBinding: String = ""
    var csrfSigner: SessionSigner?
    /// The token a form of this caller must carry: an HMAC, computed when asked for (most
    /// requests never need it).
    var csrfToken: String { csrfSigner?.csrfToken(sessionID: csrfBinding) ?? "" }
    /// The client's address.
    var address: String
    /// True when the CSRF token is still to be found in a streamed form's fields (`checkCSRF`).
    var csrfPending: Bool

    /// For a streamed form: its `csrf` field must be the caller's token when one is still owed.
    func checkCSRF(formField: String?) throws(HTTPError) {
        guard csrfPending else { return }
        guard let formField, ConstantTime.equal(Array(formField.utf8), Array(csrfToken.utf8)) else {
            throw Gatekeeper.csrfError("the form's CSRF token is missing or wrong: reload the page and try again")
        }
    }

    /// False on a public route for a caller without (valid) credentials.
    var isSignedIn: Bool { !principal.name.isEmpty }

    /// Whether the caller may see `region`.
    func mayAccess(region: String) -> Bool { principal.regions.allows(region) }

    /// Refuses a region outside the caller's list.
    func requireRegion(_ region: String) throws(HTTPError) {
        guard mayAccess(region: region) else {
            throw HTTPError(status: 403, code: "region_forbidden",
                            message: "\(principal.name) may not see region \(region); allowed: \(principal.regions.list.joined(separator: ", "))")
        }
    }
}

/// A route's handler, given the admitted caller. The same three ways of running as `Router.Handler`.
enum PortalHandler: Sendable {
    case immediate(@Sendable (HTTPRequest, Caller) throws -> HTTPResponse)
    case blocking(@Sendable (HTTPRequest, Caller) throws -> HTTPResponse)
    /// The body is handed to the consumer the closure makes (see `Router.Handler.streaming`).
    case streaming(@Sendable (HTTPRequest, Caller) throws -> any HTTPBodyConsumer)
}

/// Builds the router so that no route can be added without saying who may call it: every
/// handler runs behind the gate (Host, identity, role, CSRF) of its declaration.
struct SecuredRouter {
    let gate: Gatekeeper
    /// Every answer is counted by route template and status, with its time.
    let metrics: Metrics
    private(set) var declarations: [RouteDeclaration] = []
    private var router = Router()

    init(gate: Gatekeeper, metrics: Metrics = Metrics()) {
        self.gate = gate
        self.metrics = metrics
    }

    /// Adds a route with its access rule.
    mutating func add(_ method: String, _ pattern: String, access: RouteAccess, kind: RouteKind = .api,
                      regions: RegionBinding = .none, checksHost: Bool = true, csrf: CSRFRule = .originAndToken,
                      _ handler: PortalHandler) {
        let declaration = RouteDeclaration(method: method, pattern: pattern, access: access, kind: kind, regions: regions,
                                           checksHost: checksHost, csrf: csrf)
        declarations.removeAll { $0.method == method && $0.pattern == pattern }
        declarations.append(declaration)
        let gate = self.gate
        guard metrics.countsRequests else {
            switch handler {
            case .immediate(let run): router.add(method, pattern, .immediate { request in try run(request, try gate.admit(request, declaration)) })
            case .blocking(let run): router.add(method, pattern, .blocking { request in try run(request, try gate.admit(request, declaration)) })
            case .streaming(let make): router.add(method, pattern, .streaming { request in try make(request, try gate.admit(request, declaration)) })
            }
            return
        }
        let meter = metrics.meter(route: pattern)
        /// Runs a handler and counts its answer (an error's status too).
        /// An answer computed later (`HTTPResponse.computed`) is counted when its work is done.
        @Sendable func measured(_ request: HTTPRequest, bodyBytes: Int, _ body: () throws -> HTTPResponse) throws -> HTTPResponse {
            let start = DispatchTime.now().uptimeNanoseconds
            @Sendable func record(_ status: Int) {
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                meter.record(method: request.head.method, status: status, seconds: seconds, bodyBytes: bodyBytes)
            }
            do {
                let response = try body()
                if let work = response.computation {
                    return .computed {
                        do {
                            let answer = try work()
                            record(answer.status)
                            return answer
                        } catch {
                            record(HTTPError.answering(error)?.status ?? 500)
                            throw error
                        }
                    }
                }
                record(response.status)
                return response
            } catch {
                record(HTTPError.answering(error)?.status ?? 500)
                throw error
            }
        }
        switch handler {
        case .immediate(let run):
            router.add(method, pattern, .immediate { request in
                try measured(request, bodyBytes: request.body.count) { try run(request, try gate.admit(request, declaration)) }
            })
        case .blocking(let run):
            router.add(method, pattern, .blocking { request in
                try measured(request, bodyBytes: request.body.count) { try run(request, try gate.admit(request, declaration)) }
            })
        case .streaming(let make):
            router.add(method, pattern, .streaming { request in
                let bodyBytes = Int(request.head.contentLength ?? 0)
                let start = DispatchTime.now().uptimeNanoseconds
                let record: @Sendable (Int) -> Void = { status in
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    meter.record(method: request.head.method, status: status, seconds: seconds, bodyBytes: bodyBytes)
                }
                do {
                    return MeasuredConsumer(try make(request, try gate.admit(request, declaration)), record: record)
                } catch {
                    record(HTTPError.answering(error)?.status ?? 500)
                    throw error
                }
            })
        }
    }

    /// The router to hand to the server.
    var built: Router { router }
}

/// Counts a streaming route's answer (or why its body was abandoned) with its time, as
/// `SecuredRouter` counts the others.
private final class MeasuredConsumer: HTTPBodyConsumer {
    private let inner: any HTTPBodyConsumer
    private let record: @Sendable (Int) -> Void

    init(_ inner: any HTTPBodyConsumer, record: @escaping @Sendable (Int) -> Void) {
        self.inner = inner
        self.record = record
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws { try inner.consume(bytes) }

    func finish() throws -> HTTPResponse {
        do {
            let response = try inner.finish()
            record(response.status)
            return response
        } catch {
            record(HTTPError.answering(error)?.status ?? 500)
            throw error
        }
    }

    func abandon(_ reason: HTTPError) {
        record(reason.status)
        inner.abandon(reason)
    }
}
