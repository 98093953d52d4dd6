import Foundation
import Testing

/// The emulator suites run only when their variables are set. Under CI=true (the CI job runs
/// scripts/test.sh, which starts the emulators and sets them) a missing variable fails here,
/// so those suites cannot drop out of a green run unnoticed.
@Suite struct EmulatorLayerTests {
    static let environment = ProcessInfo.processInfo.environment

    @Test(.enabled(if: environment["CI"]?.lowercased() == "true", "only CI must have the emulators"),
          arguments: ["STORAGE_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST"])
    func theEmulatorVariablesAreSetInCI(name: String) throws {
        let value = try #require(Self.environment[name], "\(name) is not set under CI=true: the emulator suites would skip")
        #expect(value.hasPrefix("http://") || value.hasPrefix("https://"), "\(name)=\(value) is not an address")
    }
}
