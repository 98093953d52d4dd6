// The configuration loader on arbitrary file text. Invariants: loading never crashes (only
// ConfigError); a loaded configuration, written back as JSON and loaded again, is the same;
// loading is deterministic.
import Foundation
@testable import Portal

private let path: String = {
    let folder = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    return "\(folder)/sales-portal-config-fuzz-\(getpid()).json"
}()

private func load(_ bytes: UnsafeRawBufferPointer) -> Result<PortalConfig, ConfigError> {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { unlink(path) }
    do {
        return .success(try ConfigLoader.load(file: path, environment: [:]))
    } catch {
        return .failure(error)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let first = load(input)
    let second = load(input)
    switch (first, second) {
    case (.success(let a), .success(let b)):
        if a != b { violated("two loads of one file differ") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let written = try? encoder.encode(a) else { violated("a loaded configuration does not encode") }
        let reloaded = written.withUnsafeBytes { load($0) }
        guard case .success(let c) = reloaded else { violated("a written configuration does not load: \(reloaded)") }
        if c != a { violated("a written configuration loads differently") }
    case (.failure(let a), .failure(let b)):
        if a != b { violated("two loads failed differently: \(a) / \(b)") }
    default:
        violated("one load succeeded and one failed")
    }
    return 0
}
