/// Entity tags (RFC 9110 §8.8.3) and the If-None-Match precondition (§13.1.2).
///
/// Each representation of a resource has its own tag: the gzip-encoded one is the identity tag
/// with `-gzip` appended inside the quotes, so a cache keeping both variants (under
/// `Vary: Accept-Encoding`) never takes one for the other.
public enum EntityTag {
    /// A strong tag for these bytes: 64-bit FNV-1a of the content, plus its length, quoted.
    public static func strong(for bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        return "\"" + String(hash, radix: 16) + "-" + String(bytes.count, radix: 16) + "\""
    }

    /// The tag of the gzip-encoded representation of the representation tagged `tag`.
    /// Weak tags are returned unchanged: a weak tag may be shared by equivalent representations.
    public static func gzipVariant(of tag: String) -> String {
        guard !tag.hasPrefix("W/"), tag.count >= 2, tag.hasSuffix("\"") else { return tag }
        return String(tag.dropLast()) + "-gzip\""
    }

    /// Whether an If-None-Match value matches `tag` by weak comparison (`*` matches any tag).
    public static func ifNoneMatch(_ value: String, matches tag: String) -> Bool {
        let wanted = tag.hasPrefix("W/") ? tag.dropFirst(2) : tag[...]
        for candidate in value.split(separator: ",") {
            var listed = candidate.trimmingASCIISpaces()
            if listed == "*" { return true }
            if listed.hasPrefix("W/") { listed = listed.dropFirst(2) }
            if listed == wanted { return true }
        }
        return false
    }

    /// Turns a 200 answer to GET or HEAD into 304 Not Modified when the request's If-None-Match
    /// matches the answer's ETag. The 304 keeps the fields a cache updates (ETag, Cache-Control,
    /// Vary, …) and drops the body and its Content-Type, Content-Encoding and Content-Length.
    public static func applyIfNoneMatch(to response: inout HTTPResponse, request: HTTPRequestHead) {
        guard response.status == 200, request.method == "GET" || request.method == "HEAD",
              let condition = request.headers["If-None-Match"], let tag = response.headers["ETag"],
              ifNoneMatch(condition, matches: tag)
        else { return }
        response.status = 304
        response.body = []
        response.headers.remove("Content-Type")
        response.headers.remove("Content-Encoding")
        response.headers.remove("Content-Length")
    }
}

extension HTTPResponse {
    /// Adds a strong ETag computed from the body and the given Cache-Control: the server then
    /// answers a matching If-None-Match with 304, and gives a gzip-encoded answer its own tag.
    public mutating func addValidator(cacheControl: String) {
        headers.replaceOrAdd("ETag", EntityTag.strong(for: body))
        headers.replaceOrAdd("Cache-Control", cacheControl)
    }

    /// This response with a strong ETag computed from the body and the given Cache-Control.
    public func withValidator(cacheControl: String) -> HTTPResponse {
        var response = self
        response.addValidator(cacheControl: cacheControl)
        return response
    }
}
