import Foundation
import Testing

@testable import Portal

/// The repository root, found from this file's path.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

@Suite struct ConfigTests {
    @Test func defaultFileListsExactlyTheBuiltInDefaults() throws {
        let fromFile = try ConfigLoader.load(file: repositoryRoot + "/Config/default.json", environment: [:])
        #expect(fromFile == PortalConfig())
        // And every key of the built-in defaults appears in the file (none silently missing).
        let data = try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/Config/default.json"))
        let fileTree = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let builtIn = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(PortalConfig())) as? [String: Any])
        #expect(Set(fileTree.keys) == Set(builtIn.keys))
        for (section, value) in builtIn {
            if let inner = value as? [String: Any] {
                #expect(Set((fileTree[section] as? [String: Any])?.keys ?? [:].keys) == Set(inner.keys), "section \(section)")
            }
        }
    }

    @Test func aMistypedSettingIsRefusedWithItsName() throws {
        let file = try temporaryFile(#"{"server": {"prot": 9000}}"#)
        #expect(throws: ConfigError.unknownSetting("server.prot")) {
            try ConfigLoader.load(file: file, environment: [:])
        }
    }

    @Test func layersWinInOrderDefaultsFileEnvironmentFlags() throws {
        let file = try temporaryFile(#"{"server": {"port": 9001, "host": "127.0.0.2"}, "storage": {"dataDir": "/tmp/a"}}"#)
        let fileOnly = try ConfigLoader.load(file: file, environment: [:])
        #expect(fileOnly.server.port == 9001)
        #expect(fileOnly.server.host == "127.0.0.2")
        #expect(fileOnly.server.workerThreads == PortalConfig().server.workerThreads)

        let withEnvironment = try ConfigLoader.load(
            file: file, environment: ["SALES_PORTAL_PORT": "9002", "SALES_PORTAL_DATA_DIR": "/tmp/b"])
        #expect(withEnvironment.server.port == 9002)
        #expect(withEnvironment.storage.dataDir == "/tmp/b")

        let withFlags = try ConfigLoader.load(
            file: file, environment: ["SALES_PORTAL_PORT": "9002"], overrides: ["server.port": "0"])
        #expect(withFlags.server.port == 0)
        #expect(withFlags.server.host == "127.0.0.2")
    }

    @Test func aValueOfTheWrongKindIsExplained() throws {
        #expect(throws: ConfigError.invalid("server.port must be a whole number, not \"eighty\"")) {
            try ConfigLoader.load(file: nil, environment: ["SALES_PORTAL_PORT": "eighty"])
        }
        let file = try temporaryFile(#"{"storage": {"mode": "cloud"}}"#)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, environment: [:]) }
        #expect(throws: ConfigError.invalid("server.timeouts.idleKeepAliveMs must be at least 1, not -1")) {
            try ConfigLoader.load(file: nil, environment: [:], overrides: ["server.timeouts.idleKeepAliveMs": "-1"])
        }
        #expect(throws: ConfigError.unreadable(path: "/no/such/config.json", reason: "no such file")) {
            try ConfigLoader.load(file: "/no/such/config.json", environment: [:])
        }
        let malformed = try temporaryFile(#"{"server": "#)
        do {
            _ = try ConfigLoader.load(file: malformed, environment: [:])
            Issue.record("a malformed file was accepted")
        } catch {
            guard case .malformed = error else { Issue.record("wrong error: \(error)"); return }
        }
    }

    @Test func booleansAndRegionsComeThroughTheFile() throws {
        let file = try temporaryFile(
            #"{"server": {"accessLog": false}, "regions": [{"code": "DE", "aliases": ["GERMANY"], "dateOrder": "DMY", "currency": "EUR"}]}"#)
        let config = try ConfigLoader.load(file: file, environment: [:])
        #expect(config.server.accessLog == false)
        #expect(config.regions.map(\.code) == ["DE"])
        #expect(config.regionRules(config.regions[0]).dateOrder == .dmy)
        let flagged = try ConfigLoader.load(file: nil, environment: [:], overrides: ["server.accessLog": "false"])
        #expect(flagged.server.accessLog == false)
    }
}

func temporaryFile(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "portal-test-\(UUID().uuidString).json"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "portal-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
