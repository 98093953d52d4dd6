import ArgumentParser
import Foundation
import Portal

/// `sales-portal`: regional sales files in, numbers out.
struct SalesPortal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sales-portal",
        abstract: "Upload regional sales CSV files, load them into a warehouse, and report on them.",
        subcommands: [Serve.self, Ingest.self],
        defaultSubcommand: Serve.self
    )
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON configuration file (see Config/default.json).")
    var config: String?

    @Option(name: .long, help: "Where objects, the SQLite warehouse and the spool live.")
    var dataDir: String?

    /// Defaults < file < environment < flags.
    func load(extra: [String: String] = [:]) throws -> PortalConfig {
        var overrides = extra
        if let dataDir { overrides["storage.dataDir"] = dataDir }
        do {
            return try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        } catch {
            // A configuration problem is not a usage mistake: say what is wrong, without the usage text.
            Output.errorLine("sales-portal: \(error.description)")
            throw ExitCode(2)
        }
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the portal (the default command).")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on; 0 picks a free port (default 8080).")
    var port: Int?

    func run() throws {
        var extra: [String: String] = [:]
        if let host { extra["server.host"] = host }
        if let port { extra["server.port"] = String(port) }
        let config = try common.load(extra: extra)
        let status: Int32
        do { status = try PortalApp.serve(config: config) } catch {
            Output.errorLine("sales-portal: \(error)")
            throw ExitCode(2)
        }
        throw ExitCode(status)
    }
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load files through the same pipeline without HTTP; prints the upload result JSON.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "The region of every file (default: from each file name).")
    var region: String?

    @Argument(help: "CSV files to load.")
    var files: [String]

    func run() throws {
        let config = try common.load()
        let status: Int32
        do { status = try PortalApp.ingest(config: config, files: files, region: region) } catch {
            Output.errorLine("sales-portal: \(error)")
            throw ExitCode(2)
        }
        throw ExitCode(status)
    }
}

// libcurl's global setup, once, before any thread exists.
PortalApp.initializeLibraries()
SalesPortal.main()
