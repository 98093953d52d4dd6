import Foundation
import Testing

@testable import Portal

/// Inputs the config harness under Fuzz/ found, kept so that the fixes stay.
@Suite struct ConfigFoundByFuzzingTests {
    /// Two unknown keys: the one named must not depend on the dictionary's iteration order.
    @Test func severalUnknownSettingsAlwaysNameTheSameOne() throws {
        let file = try temporaryFile(#"{"storage+": {"mode": "gcp"}, "gc*": {"project": "p"}}"#)
        defer { unlink(file) }
        for _ in 0..<20 {
            #expect(throws: ConfigError.unknownSetting("gc*")) {
                try ConfigLoader.load(file: file, environment: [:])
            }
        }
    }
}
