import Glibc
import Support

/// A folder of static files, read into memory once, served by an immediate handler.
///
/// Each file gets a Content-Type from its extension, `Cache-Control: no-cache` (a browser
/// revalidates before each use, so a page never runs with a stale script after an upgrade), and
/// a precomputed gzip variant when that is smaller. Each representation has its own strong ETag
/// (the gzip one is `EntityTag.gzipVariant` of the identity one), and `Vary: Accept-Encoding` is
/// sent for every file worth compressing; If-None-Match is compared with the tag of the representation the request selects,
/// and a match is answered with 304. Every header set is built once, when the files are loaded.
/// Paths with `..` or `.` segments, backslashes or NUL bytes (also when percent-encoded) are
/// refused with 400 before any lookup; only files loaded from the folder can ever be served.
///
/// Mount it with a final catch-all segment, e.g. `router.get("/{path...}", files.handler)`, or on an
/// explicit route (then the request path is used). A path ending in "/" serves that folder's index.html.
public struct StaticFiles: Sendable {
    struct Entry: Sendable {
        /// One representation: its body, tag, and the headers of its 200 and 304 answers.
        struct Representation: Sendable {
            let body: [UInt8]
            let etag: String
            let headers: HTTPHeaders
            let notModifiedHeaders: HTTPHeaders
        }

        let identity: Representation
        let gzipped: Representation?

        /// `varies`: whether the answer depends on Accept-Encoding (the file was worth compressing,
        /// whether or not gzip made it smaller), so that 200 and 304 answers carry the same Vary.
        init(body: [UInt8], gzipped: [UInt8]?, varies: Bool, contentType: String, cacheControl: String) {
            let etag = EntityTag.strong(for: body)
            func representation(_ body: [UInt8], etag: String, encoding: String?) -> Representation {
                var notModified: HTTPHeaders = ["ETag": etag, "Cache-Control": cacheControl]
                if varies || gzipped != nil { notModified.add("Vary", "Accept-Encoding") }
                var headers = notModified
                headers.add("Content-Type", contentType)
                if let encoding { headers.add("Content-Encoding", encoding) }
                return Representation(body: body, etag: etag, headers: headers, notModifiedHeaders: notModified)
            }
            identity = representation(body, etag: etag, encoding: nil)
            self.gzipped = gzipped.map { representation($0, etag: EntityTag.gzipVariant(of: etag), encoding: "gzip") }
        }
    }

    /// Cache-Control of every file.
    static let cacheControl = "no-cache"

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
        var chosen = entry.identity
        if let gzipped = entry.gzipped, ResponseCompression.accepts(request.headers["Accept-Encoding"]) { chosen = gzipped }
        if let ifNoneMatch = request.headers["If-None-Match"], EntityTag.ifNoneMatch(ifNoneMatch, matches: chosen.etag) {
            return HTTPResponse(status: 304, headers: chosen.notModifiedHeaders)
        }
        return HTTPResponse(status: 200, headers: chosen.headers, body: chosen.body)
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
                let varies = body.count >= gzipMinimumBytes && ResponseCompression.isCompressible(contentType: type)
                if varies, let compressed = Gzip.compress(body, level: 9), compressed.count < body.count {
                    gzipped = compressed
                }
                files[key] = Entry(body: body, gzipped: gzipped, varies: varies, contentType: type, cacheControl: cacheControl)
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
