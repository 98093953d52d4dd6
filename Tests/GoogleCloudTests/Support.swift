import Crypto
import Foundation
@testable import GoogleCloud

/// Where the emulators are, from the environment the CI job (and scripts/emulators.sh) sets.
enum Emulators {
    static let storageHost = ProcessInfo.processInfo.environment["STORAGE_EMULATOR_HOST"].flatMap { $0.isEmpty ? nil : $0 }
    static let bigQueryHost = ProcessInfo.processInfo.environment["BIGQUERY_EMULATOR_HOST"].flatMap { $0.isEmpty ? nil : $0 }
    static var hasStorage: Bool { storageHost != nil }
    static var hasBigQuery: Bool { bigQueryHost != nil }
    static let bucket = ProcessInfo.processInfo.environment["GCS_TEST_BUCKET"] ?? "sales-uploads"
    static let project = "test-project"
}

/// Retries that wait little, so fault tests stay quick.
let quickRetries = RetryPolicy(maxAttempts: 6, initialBackoff: 0.01, maxBackoff: 0.05, deadline: 30)

/// A unique name per test run.
func uniqueName(_ stem: String) -> String {
    "\(stem)-\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)"
}

/// Deterministic pseudo-random bytes.
func testBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    var out = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        out[index] = UInt8(truncatingIfNeeded: state)
    }
    return out
}

func md5Hex(_ bytes: [UInt8]) -> String {
    Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

func storageClient(endpoint: String? = nil, chunkSize: Int = 256 * 1024, retry: RetryPolicy = quickRetries,
                   http: HTTPClientSettings = HTTPClientSettings()) throws -> StorageClient {
    GoogleCloud.globalInit()
    var settings = StorageSettings()
    settings.chunkSize = chunkSize
    settings.downloadRangeSize = 300 * 1024
    settings.retryPolicy = retry
    return try StorageClient(endpoint: endpoint ?? Emulators.storageHost, project: Emulators.project,
                             credentials: AnonymousCredentials(), httpClient: CurlHTTPClient(settings: http),
                             settings: settings)
}
