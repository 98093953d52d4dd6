import Support

/// When and how a response is sent gzip-compressed.
enum ResponseCompression {
    /// Whether a Content-Type is text-like and worth compressing.
    static func isCompressible(contentType: String) -> Bool {
        let type = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
        return type.hasPrefix("text/") || type == "application/json" || type == "application/javascript"
            || type == "image/svg+xml" || type == "application/xml" || type.hasSuffix("+json")
    }

    /// Whether an Accept-Encoding value allows gzip (listed, or "*", without q=0).
    static func accepts(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        for member in acceptEncoding.split(separator: ",") {
            let parts = member.split(separator: ";")
            guard let coding = parts.first?.trimmingASCIISpaces(), coding == "gzip" || coding == "*" || coding == "x-gzip" else {
                continue
            }
            let refused = parts.dropFirst().contains { parameter in
                let trimmed = parameter.trimmingASCIISpaces()
                return trimmed.hasPrefix("q=") && (Double(trimmed.dropFirst(2)) ?? 1) == 0
            }
            return !refused
        }
        return false
    }

    /// Compresses the response in place when the request accepts gzip, the type is text-like,
    /// the body is at least `minimumBytes`, and it is not encoded already. Adds `Vary: Accept-Encoding`
    /// to every response that could be compressed so caches keep the variants apart, and gives a
    /// compressed response with a strong ETag the tag of its gzip variant (`EntityTag.gzipVariant`).
    static func apply(to response: inout HTTPResponse, request: HTTPRequestHead, minimumBytes: Int) {
        guard response.body.count >= minimumBytes, response.headers["Content-Encoding"] == nil,
              let type = response.headers["Content-Type"], isCompressible(contentType: type) else { return }
        if response.headers["Vary"] == nil { response.headers.add("Vary", "Accept-Encoding") }
        guard accepts(request.headers["Accept-Encoding"]),
              let compressed = Gzip.compress(response.body), compressed.count < response.body.count else { return }
        response.body = compressed
        response.headers.add("Content-Encoding", "gzip")
        if let tag = response.headers["ETag"] { response.headers.replaceOrAdd("ETag", EntityTag.gzipVariant(of: tag)) }
    }

    /// The last steps of every handler's answer: compression (`apply`), then If-None-Match
    /// against the tag of the representation actually chosen.
    static func finish(_ response: inout HTTPResponse, request: HTTPRequestHead, minimumBytes: Int) {
        apply(to: &response, request: request, minimumBytes: minimumBytes)
        EntityTag.applyIfNoneMatch(to: &response, request: request)
    }
}
