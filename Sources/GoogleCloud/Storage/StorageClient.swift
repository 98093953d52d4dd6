import Crypto
import Foundation
import Support

/// What Cloud Storage says about an object (the fields this project reads).
public struct ObjectMetadata: Sendable, Equatable, Decodable {
    public var bucket: String
    public var name: String
    /// Int64 in a JSON string, as the API sends it.
    public var generation: String
    public var size: String
    public var contentType: String?
    /// Base64 of the MD5 digest.
    public var md5Hash: String?
    /// Base64 of the big-endian CRC32C.
    public var crc32c: String?

    /// `size` as a number.
    public var sizeBytes: Int64 { Int64(size) ?? 0 }
    /// `gs://bucket/name`.
    public var uri: String { "gs://\(bucket)/\(name)" }
}

/// Settings of the Cloud Storage client.
public struct StorageSettings: Sendable, Equatable {
    /// Resumable uploads send chunks of this many bytes; a multiple of 256 KiB.
    public var chunkSize: Int = 8 * 1024 * 1024
    /// Downloads read the object in ranges of this many bytes.
    public var downloadRangeSize: Int = 8 * 1024 * 1024
    public var retryPolicy: RetryPolicy = RetryPolicy()
    public init() {}
}

/// A client of the Cloud Storage JSON API: buckets, object metadata, simple and
/// resumable uploads, ranged downloads. Calls block; use worker threads.
public final class StorageClient: Sendable {
    /// Google's endpoint, or the emulator's.
    public let endpoint: String
    public let project: String
    public let settings: StorageSettings
    let transport: RESTTransport

    /// The public endpoint of Cloud Storage.
    public static let defaultEndpoint = "https://storage.googleapis.com"

    /// - Parameters:
    ///   - endpoint: nil picks `STORAGE_EMULATOR_HOST` when set, else Google's endpoint.
    ///   - credentials: nil picks anonymous access for an emulator, else Application Default Credentials.
    ///   - extraHeaders: sent on every request (e.g. `x-goog-user-project`).
    public init(endpoint: String? = nil, project: String, credentials: (any TokenProvider)? = nil,
                httpClient: any HTTPClient = CurlHTTPClient(), extraHeaders: [(name: String, value: String)] = [],
                settings: StorageSettings = StorageSettings()) throws {
        guard settings.chunkSize > 0, settings.chunkSize % (256 * 1024) == 0 else {
            throw GoogleCloudError.configuration("chunk size \(settings.chunkSize) is not a positive multiple of 256 KiB")
        }
        guard settings.downloadRangeSize > 0 else {
            throw GoogleCloudError.configuration("download range size must be positive")
        }
        (self.endpoint, self.transport) = try ServiceEndpoint.connect(
            endpoint: endpoint, emulatorVariable: "STORAGE_EMULATOR_HOST", defaultEndpoint: StorageClient.defaultEndpoint,
            credentials: credentials, httpClient: httpClient, extraHeaders: extraHeaders, retryPolicy: settings.retryPolicy)
        self.project = project
        self.settings = settings
    }

    func objectURL(bucket: String, name: String) -> String {
        "\(endpoint)/storage/v1/b/\(PercentEncoding.encode(bucket))/o/\(PercentEncoding.encode(name))"
    }

    func uploadURL(bucket: String) -> String {
        "\(endpoint)/upload/storage/v1/b/\(PercentEncoding.encode(bucket))/o"
    }

    /// Throws unless the bucket exists and can be read.
    public func checkBucket(_ bucket: String) throws {
        let request = HTTPRequest(method: "GET", url: "\(endpoint)/storage/v1/b/\(PercentEncoding.encode(bucket))")
        _ = try transport.send(request, idempotent: true)
    }

    /// True when the bucket exists (and can be read); false on 404.
    public func bucketExists(_ bucket: String) throws -> Bool {
        do {
            try checkBucket(bucket)
            return true
        } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return false
        }
    }

    /// Creates the bucket in `project` unless it exists; true when it was created. A 409
    /// (the name is taken, by this project or by a concurrent create) counts as existing.
    @discardableResult
    public func createBucketIfMissing(_ bucket: String, location: String? = nil) throws -> Bool {
        if try bucketExists(bucket) { return false }
        var fields: [String: String] = ["name": bucket]
        if let location, !location.isEmpty { fields["location"] = location }
        let body = try JSONSerialization.data(withJSONObject: fields)
        let query = PercentEncoding.query([("project", project)])
        var request = HTTPRequest(method: "POST", url: "\(endpoint)/storage/v1/b?\(query)", body: .bytes(Array(body)))
        request.addHeader("Content-Type", "application/json")
        return try RetryLoop.run(policy: settings.retryPolicy, idempotent: true) { _ in
            do {
                _ = try transport.sendOnce(request)
                return true
            } catch let error as GoogleCloudError where error.httpStatus == 409 {
                return false
            }
        }
    }

    /// The object's metadata, or nil when there is no such object.
    public func getObject(bucket: String, name: String) throws -> ObjectMetadata? {
        let request = HTTPRequest(method: "GET", url: objectURL(bucket: bucket, name: name))
        do {
            let response = try transport.send(request, idempotent: true)
            return try Self.decodeObject(response.body)
        } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return nil
        }
    }

    /// Deletes an object (one generation of it when given); true when it existed.
    @discardableResult
    public func deleteObject(bucket: String, name: String, generation: String? = nil) throws -> Bool {
        let url = objectURL(bucket: bucket, name: name) + (generation.map { "?generation=\(PercentEncoding.encode($0))" } ?? "")
        let request = HTTPRequest(method: "DELETE", url: url)
        do {
            _ = try transport.send(request, idempotent: true)
            return true
        } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return false
        }
    }

    /// Uploads a small object in one request. With `ifGenerationMatch: 0` it never overwrites,
    /// which also makes a retry safe: a retry that finds the object already written by the
    /// lost first attempt accepts it when its checksums are this content's.
    public func upload(bucket: String, name: String, contentType: String, bytes: [UInt8],
                       ifGenerationMatch: Int64? = 0) throws -> ObjectMetadata {
        var query: [(String, String)] = [("uploadType", "media"), ("name", name)]
        if let generation = ifGenerationMatch { query.append(("ifGenerationMatch", String(generation))) }
        var request = HTTPRequest(method: "POST", url: "\(uploadURL(bucket: bucket))?\(PercentEncoding.query(query))",
                                  body: .bytes(bytes))
        request.addHeader("Content-Type", contentType)
        var crc = CRC32C()
        crc.update(bytes)
        let md5 = Base64.encode(Array(Insecure.MD5.hash(data: bytes)))
        let expected = Checksums(crc32c: crc.base64, md5: md5)
        let object: ObjectMetadata = try RetryLoop.run(policy: settings.retryPolicy, idempotent: ifGenerationMatch != nil) { attempt in
            do {
                return try Self.decodeObject(transport.sendOnce(request).body)
            } catch let error as GoogleCloudError where error.httpStatus == 412 && attempt > 1 {
                guard let existing = try getObject(bucket: bucket, name: name), expected.matches(existing) else { throw error }
                return existing
            }
        }
        try expected.verify(object)
        return object
    }

    /// Starts a resumable upload session. `ifGenerationMatch: 0` fails the upload if the object exists.
    public func beginResumableUpload(bucket: String, name: String, contentType: String,
                                     ifGenerationMatch: Int64? = 0) throws -> ResumableUpload {
        var query: [(String, String)] = [("uploadType", "resumable"), ("name", name)]
        if let generation = ifGenerationMatch { query.append(("ifGenerationMatch", String(generation))) }
        let metadata = try JSONSerialization.data(withJSONObject: ["name": name, "contentType": contentType])
        var request = HTTPRequest(method: "POST", url: "\(uploadURL(bucket: bucket))?\(PercentEncoding.query(query))",
                                  body: .bytes(Array(metadata)))
        request.addHeader("Content-Type", "application/json; charset=UTF-8")
        request.addHeader("X-Upload-Content-Type", contentType)
        // Starting a session has no side effect on the bucket: safe to retry.
        let response = try transport.send(request, idempotent: true)
        guard let location = response.header("location"), !location.isEmpty else {
            throw GoogleCloudError.invalidResponse("resumable upload answer has no Location header")
        }
        return ResumableUpload(sessionURL: location, bucket: bucket, name: name, chunkSize: settings.chunkSize,
                               transport: transport, retryPolicy: settings.retryPolicy,
                               lookupObject: { [self] in try getObject(bucket: bucket, name: name) },
                               deleteGeneration: { [self] generation in try deleteObject(bucket: bucket, name: name, generation: generation) })
    }

    /// Resumes a session started earlier (its URL kept by the caller): asks the server how
    /// much it has. The bytes after that point must be written again; checksums then cover
    /// only what this object sends, so they are not checked at the end.
    public func resumeUpload(sessionURL: String, bucket: String, name: String) throws -> ResumableUpload {
        let upload = ResumableUpload(sessionURL: sessionURL, bucket: bucket, name: name, chunkSize: settings.chunkSize,
                                     transport: transport, retryPolicy: settings.retryPolicy,
                               lookupObject: { [self] in try getObject(bucket: bucket, name: name) },
                               deleteGeneration: { [self] generation in try deleteObject(bucket: bucket, name: name, generation: generation) })
        try upload.adoptServerOffset()
        return upload
    }

    /// Opens the object for reading in ranges, pinned to its current generation.
    public func download(bucket: String, name: String) throws -> ObjectDownload {
        guard let metadata = try getObject(bucket: bucket, name: name) else {
            throw GoogleCloudError.http(statusCode: 404, reason: "notFound", status: "NOT_FOUND",
                                        message: "no object gs://\(bucket)/\(name)")
        }
        return ObjectDownload(metadata: metadata, url: objectURL(bucket: bucket, name: name),
                              rangeSize: settings.downloadRangeSize, transport: transport)
    }

    /// The whole object in memory (small objects, tests).
    public func downloadAll(bucket: String, name: String) throws -> [UInt8] {
        let reader = try download(bucket: bucket, name: name)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if count == 0 { break }
            out.append(contentsOf: buffer[0..<count])
        }
        return out
    }

    static func decodeObject(_ body: [UInt8]) throws -> ObjectMetadata {
        do {
            return try JSONDecoder().decode(ObjectMetadata.self, from: Data(body))
        } catch {
            throw GoogleCloudError.invalidResponse("object metadata could not be read: \(error)")
        }
    }
}

/// Checksums computed while sending, compared with the stored object's.
struct Checksums {
    var crc32c: String
    var md5: String

    func matches(_ object: ObjectMetadata) -> Bool {
        (object.crc32c == nil || object.crc32c == crc32c) && (object.md5Hash == nil || object.md5Hash == md5)
    }

    func verify(_ object: ObjectMetadata) throws {
        if let stored = object.crc32c, stored != crc32c {
            throw GoogleCloudError.checksumMismatch("gs://\(object.bucket)/\(object.name): stored crc32c \(stored), sent \(crc32c)")
        }
        if let stored = object.md5Hash, stored != md5 {
            throw GoogleCloudError.checksumMismatch("gs://\(object.bucket)/\(object.name): stored md5 \(stored), sent \(md5)")
        }
    }
}

/// Another name for the Cloud Storage client's settings, for modules that have a
/// `StorageSettings` of their own (the module's enum `GoogleCloud` hides the module name).
public typealias CloudStorageSettings = StorageSettings
