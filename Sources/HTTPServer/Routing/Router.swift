/// Maps a method and a path to a handler. Built once, then handed to the server by value (frozen).
///
/// Patterns are made of literal segments, `{name}` segments that match one segment and become
/// a path parameter, and a final `{name...}` segment that matches the rest of the path (possibly empty).
public struct Router: Sendable {
    /// How a route's handler runs, and how its request body is delivered.
    public enum Handler: Sendable {
        /// Runs on the event-loop thread with the body buffered; must not block (health, static files, small JSON).
        case immediate(@Sendable (HTTPRequest) throws -> HTTPResponse)
        /// Runs on a worker thread with the body buffered (at most `maxBufferedBodyBytes`).
        case blocking(@Sendable (HTTPRequest) throws -> HTTPResponse)
        /// For large bodies (uploads): as soon as the head arrives, a receive worker makes the route's
        /// consumer (or refuses the request); the body is handed to it in pieces as it arrives, with
        /// backpressure, and its `finish` answers on a streaming worker. A slow body holds no thread.
        case streaming(@Sendable (HTTPRequest) throws -> any HTTPBodyConsumer)

        var isStreaming: Bool {
            if case .streaming = self { return true }
            return false
        }
    }

    /// The outcome of looking a request up.
    public enum Match: Sendable {
        /// A route matched; `route` is the pattern it was added with (`/api/report/{kind}`).
        case found(Handler, parameters: [String: String], route: String)
        /// The path is known but not for this method; `allowed` lists the methods that are.
        case methodNotAllowed(allowed: [String])
        /// No route has this path.
        case notFound
    }

    private final class Node: @unchecked Sendable {
        // Safe: nodes are only mutated while the router is built (copy-on-write below keeps a
        // shared tree from being changed), and only read once the router is handed to the server.
        var literals: [String: Node] = [:]
        var parameter: (name: String, node: Node)?
        var rest: (name: String, pattern: String, handlers: [String: Handler])?
        var handlers: [String: Handler] = [:]
        /// The pattern of the routes ending at this node (every method shares it).
        var pattern = ""

        func copy() -> Node {
            let node = Node()
            node.literals = literals.mapValues { $0.copy() }
            if let parameter { node.parameter = (parameter.name, parameter.node.copy()) }
            node.rest = rest
            node.handlers = handlers
            node.pattern = pattern
            return node
        }
    }

    private var root = Node()

    /// Every method and pattern added, in order (a replaced route is listed once).
    public private(set) var routes: [(method: String, pattern: String)] = []

    /// An empty router.
    public init() {}

    /// Adds a route. A later route with the same method and pattern replaces the earlier one.
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        if !isKnownUniquelyReferenced(&root) { root = root.copy() }
        if !routes.contains(where: { $0.method == method && $0.pattern == pattern }) { routes.append((method, pattern)) }
        var node = root
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true)
        for (index, segment) in segments.enumerated() {
            if segment.hasPrefix("{") && segment.hasSuffix("...}") {
                precondition(index == segments.count - 1, "A {name...} segment must be the last one: \(pattern)")
                let name = String(segment.dropFirst().dropLast(4))
                var handlers = node.rest?.handlers ?? [:]
                handlers[method] = handler
                node.rest = (name, pattern, handlers)
                return
            }
            if segment.hasPrefix("{") && segment.hasSuffix("}") {
                let name = String(segment.dropFirst().dropLast())
                if node.parameter == nil { node.parameter = (name, Node()) }
                node = node.parameter!.node
            } else {
                let key = String(segment)
                if let next = node.literals[key] {
                    node = next
                } else {
                    let next = Node()
                    node.literals[key] = next
                    node = next
                }
            }
        }
        node.handlers[method] = handler
        node.pattern = pattern
    }

    /// Shorthand for `add("GET", pattern, handler)`.
    public mutating func get(_ pattern: String, _ handler: Handler) { add("GET", pattern, handler) }

    /// Shorthand for `add("POST", pattern, handler)`.
    public mutating func post(_ pattern: String, _ handler: Handler) { add("POST", pattern, handler) }

    /// Looks a request up by its path as sent (still percent-encoded): the path is split into
    /// segments first and each is decoded after, so `%2F` stays inside its segment
    /// (`/api/report/invoices/UK/INV%2F7` gives the one value `INV/7`). HEAD falls back to the
    /// GET route of the same path.
    public func match(method: String, path: String) -> Match {
        var parameters: [String: String] = [:]
        guard let (handlers, route) = find(node: root, path: path[...], parameters: &parameters) else { return .notFound }
        if let handler = handlers[method] { return .found(handler, parameters: parameters, route: route) }
        if method == "HEAD", let handler = handlers["GET"] { return .found(handler, parameters: parameters, route: route) }
        var allowed = Array(handlers.keys)
        if handlers["GET"] != nil && handlers["HEAD"] == nil { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    private func find(node: Node, path: Substring, parameters: inout [String: String]) -> ([String: Handler], String)? {
        var rest = path
        while rest.first == "/" { rest.removeFirst() }
        if rest.isEmpty {
            if !node.handlers.isEmpty { return (node.handlers, node.pattern) }
            if let catchAll = node.rest {
                parameters[catchAll.name] = ""
                return (catchAll.handlers, catchAll.pattern)
            }
            return nil
        }
        let segmentEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let segment = Self.decoded(rest[rest.startIndex..<segmentEnd])
        let remainder = rest[segmentEnd...]
        if let literal = node.literals[segment],
           let found = find(node: literal, path: remainder, parameters: &parameters) {
            return found
        }
        if let parameter = node.parameter {
            var attempt = parameters
            attempt[parameter.name] = segment
            if let found = find(node: parameter.node, path: remainder, parameters: &attempt) {
                parameters = attempt
                return found
            }
        }
        if let catchAll = node.rest {
            parameters[catchAll.name] = Self.decoded(rest)
            return (catchAll.handlers, catchAll.pattern)
        }
        return nil
    }

    /// A raw path part, percent-decoded (the parser has already refused malformed escapes).
    private static func decoded(_ raw: Substring) -> String {
        guard raw.contains("%") else { return String(raw) }
        return PercentDecoding.decodePath(Array(raw.utf8)) ?? String(raw)
    }
}
