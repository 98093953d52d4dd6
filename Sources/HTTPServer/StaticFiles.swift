import Glibc

/// A folder of static files, read into memory once, served by an immediate handler.
///
/// Each file gets a strong ETag (answered with 304 on a matching If-None-Match), a Content-Type
/// from its extension, Cache-Control, and a precomputed gzip variant when that is smaller.
/// Paths with `..` or `.` segments, backslashes or NUL bytes (also when percent-encoded) are
/// refused with 400 before any lookup; only files loaded from the folder can ever be served.
///
/// Mount it with a final catch-all segment, e.g. `router.get("/{path...}", files.handler)`, or on an
/// explicit route (then the request path is used). A path ending in "/" serves that folder's index.html.
public struct StaticFiles: Sendable {
    struct Entry: Sendable {
        let body: [UInt8]
        let gzipped: [UInt8]?
        let etag: String
        let contentType: String
        let cacheControl: String
    }

    private let files: [String: Entry]

    /// Number of files loaded.
    public var count: Int { files.count }

    /// Loads every regular file under `root` (dot files skipped).
    public init(root: String, gzipMinimumBytes: Int = 860) throws(HTTPServerError) {
        var files: [String: Entry] = [:]
        try Self.load(directory: root, prefix: "", into: &files, gzipMinimumBytes: gzipMinimumBytes)
        self.files = files
    }

    /// The immediate handler serving the files.
    public var handler: Router.Handler {
        let files = self.files
        return .immediate { request throws(HTTPError) in
            let requested = request.pathParameters["path"] ?? request.head.path
            let key = try Self.resolve(requested)
            guard let entry = files[key] else {
                throw HTTPError(status: 404, code: "not_found", message: "No such file.")
            }
            return Self.response(for: entry, request: request.head)
        }
    }

    /// The key of a requested path, or 400 when it tries to leave the folder.
    static func resolve(_ requested: String) throws(HTTPError) -> String {
        let traversal = HTTPError.badRequest("bad_path", "The path is not allowed.")
        if requested.utf8.contains(0) || requested.utf8.contains(UInt8(ascii: "\\")) { throw traversal }
        var segments: [Substring] = []
        for segment in requested.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == ".." || segment == "." || segment.contains("%") { throw traversal }
            segments.append(segment)
        }
        if requested.isEmpty || requested.hasSuffix("/") { segments.append("index.html") }
        return segments.joined(separator: "/")
    }

    private static func response(for entry: Entry, request: HTTPRequestHead) -> HTTPResponse {
        var headers: HTTPHeaders = ["ETag": entry.etag, "Cache-Control": entry.cacheControl]
        if entry.gzipped != nil { headers.add("Vary", "Accept-Encoding") }
        if let ifNoneMatch = request.headers["If-None-Match"], matches(ifNoneMatch, etag: entry.etag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        headers.add("Content-Type", entry.contentType)
        if let gzipped = entry.gzipped, Gzip.accepts(request.headers["Accept-Encoding"]) {
            headers.add("Content-Encoding", "gzip")
            return HTTPResponse(status: 200, headers: headers, body: gzipped)
        }
        return HTTPResponse(status: 200, headers: headers, body: entry.body)
    }

    private static func matches(_ ifNoneMatch: String, etag: String) -> Bool {
        for candidate in ifNoneMatch.split(separator: ",") {
            var tag = candidate.trimmingASCIISpaces()
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            if tag == etag { return true }
        }
        return false
    }

    // MARK: Loading

    private static func load(directory: String, prefix: String, into files: inout [String: Entry],
                             gzipMinimumBytes: Int) throws(HTTPServerError) {
        guard let handle = opendir(directory) else {
            throw HTTPServerError("static_root_unreadable", "cannot open folder \(directory)")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        for name in names.sorted() {
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let key = prefix.isEmpty ? name : prefix + "/" + name
            if info.st_mode & S_IFMT == S_IFDIR {
                try load(directory: path, prefix: key, into: &files, gzipMinimumBytes: gzipMinimumBytes)
            } else if info.st_mode & S_IFMT == S_IFREG {
                let body = try readFile(path)
                let type = contentType(for: name)
                var gzipped: [UInt8]?
                if body.count >= gzipMinimumBytes && Gzip.isCompressible(contentType: type),
                   let compressed = Gzip.compress(body, level: 9), compressed.count < body.count {
                    gzipped = compressed
                }
                let cacheControl = type.hasPrefix("text/html") ? "no-cache" : "public, max-age=3600"
                files[key] = Entry(body: body, gzipped: gzipped, etag: etag(for: body), contentType: type,
                                   cacheControl: cacheControl)
            }
        }
    }

    private static func readFile(_ path: String) throws(HTTPServerError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HTTPServerError("static_file_unreadable", "cannot open \(path)") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw HTTPServerError("static_file_unreadable", "cannot read \(path)") }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// A strong validator: 64-bit FNV-1a of the content, plus its length.
    static func etag(for bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return "\"" + String(hash, radix: 16) + "-" + String(bytes.count, radix: 16) + "\""
    }

    /// The Content-Type for a file name's extension.
    public static func contentType(for name: String) -> String {
        let dot = name.lastIndex(of: ".").map { name.index(after: $0) } ?? name.endIndex
        switch name[dot...].lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "json", "map": return "application/json"
        case "csv": return "text/csv; charset=utf-8"
        case "txt": return "text/plain; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "xml": return "application/xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "woff": return "font/woff"
        case "woff2": return "font/woff2"
        case "pdf": return "application/pdf"
        case "wasm": return "application/wasm"
        default: return "application/octet-stream"
        }
    }
}
