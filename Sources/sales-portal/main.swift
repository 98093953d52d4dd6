import ArgumentParser
import Foundation
import Portal

/// `sales-portal`: regional sales files in, numbers out.
struct SalesPortal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sales-portal",
        abstract: "Upload regional sales CSV files, load them into a warehouse, and report on them.",
        subcommands: [Serve.self, Ingest.self, Users.self, Tokens.self, Routes.self],
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

/// Runs an account command, printing its message; a failure says why and exits 2.
func runAccountCommand(_ body: () throws -> String) throws {
    do {
        let message = try body()
        if !message.isEmpty { Output.line(message) }
    } catch let error as ExitCode {
        throw error
    } catch {
        Output.errorLine("sales-portal: \(error)")
        throw ExitCode(2)
    }
}

struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the users file (auth.mode local or iap).", subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user, or change its role, regions or password.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The user name (in iap mode: the e-mail address).") var name: String
        @Option(name: .long, help: "viewer, uploader or admin (required for a new user; kept when omitted).") var role: String?
        @Option(name: .long, help: "Region codes separated by commas, or * for all (required for a new viewer or uploader; kept when omitted).")
        var regions: String?
        @Flag(name: .long, help: "Read the password from standard input (one line).") var passwordStdin = false

        func run() throws {
            let config = try common.load()
            var password: String?
            if passwordStdin {
                guard let line = readLine(strippingNewline: true) else {
                    Output.errorLine("sales-portal: --password-stdin given but standard input is empty")
                    throw ExitCode(2)
                }
                password = line
            }
            try runAccountCommand {
                try AccountCommands.addUser(config: config, name: name, role: role, regions: regions, password: password)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users, their roles, regions and token labels.")
        @OptionGroup var common: CommonOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        func run() throws {
            let config = try common.load()
            try runAccountCommand { try AccountCommands.listUsers(config: config, json: json) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user and its tokens.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        func run() throws {
            let config = try common.load()
            try runAccountCommand { try AccountCommands.removeUser(config: config, name: name) }
        }
    }
}

struct Tokens: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "API tokens for scripts (Authorization: Bearer).", subcommands: [Create.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for a user and print it, once.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The user the token acts for.") var user: String
        @Option(name: .long, help: "A label to revoke it by (default token-N).") var name: String?
        func run() throws {
            let config = try common.load()
            try runAccountCommand { try AccountCommands.createToken(config: config, user: user, label: name) }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a user's token by its label.")
        @OptionGroup var common: CommonOptions
        @Argument var user: String
        @Argument var label: String
        func run() throws {
            let config = try common.load()
            try runAccountCommand { try AccountCommands.revokeToken(config: config, user: user, label: label) }
        }
    }
}

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every HTTP route with who may call it, as JSON.", shouldDisplay: false)
    @OptionGroup var common: CommonOptions
    func run() throws {
        let config = try common.load()
        do { Output.bytes(try PortalApp.routeTable(config: config)) } catch {
            Output.errorLine("sales-portal: \(error)")
            throw ExitCode(2)
        }
    }
}

// libcurl's global setup, once, before any thread exists.
PortalApp.initializeLibraries()
SalesPortal.main()
