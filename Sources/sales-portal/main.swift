import ArgumentParser
import Foundation
import Portal

/// `sales-portal`: regional sales files in, numbers out.
struct SalesPortal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sales-portal",
        abstract: "Upload regional sales CSV files, load them into a warehouse, and report on them.",
        discussion: """
            Examples:
              sales-portal serve --data-dir ./data
              sales-portal check --config /etc/sales-portal.json
              sales-portal ingest IN.csv UK.csv --data-dir ./data
            Run `sales-portal help COMMAND` for the options and examples of a command.
            """,
        version: "sales-portal \(PortalApp.version)",
        subcommands: [Serve.self, Check.self, Ingest.self, Users.self, Tokens.self, Routes.self],
        defaultSubcommand: Serve.self
    )
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON configuration file (see Config/default.json).")
    var config: String?

    @Option(name: .long, help: "Where objects, the SQLite warehouse and the spool live.")
    var dataDir: String?

    /// Defaults < file < environment < flags. A problem is told through `report`.
    func load(extra: [String: String] = [:], report: (String) -> Void = Output.errorLine) throws -> PortalConfig {
        var overrides = extra
        if let dataDir { overrides["storage.dataDir"] = dataDir }
        do {
            return try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        } catch {
            // A configuration problem is not a usage mistake: say what is wrong, without the usage text.
            report("sales-portal: \(error.description)")
            throw ExitCode(2)
        }
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the portal (the default command).",
        discussion: """
            Settings come from the built-in defaults, then --config, then SALES_PORTAL_* variables \
            (and PORT, as Cloud Run sets it), then these flags. SIGTERM or SIGINT stops taking new \
            connections and lets requests in flight finish (server.shutdownGraceMs).
            Examples:
              sales-portal serve --port 8080 --data-dir /var/lib/sales-portal
              SALES_PORTAL_AUTH_MODE=local sales-portal serve --host 0.0.0.0
              sales-portal serve --config Config/emulator.json
            """)

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on; 0 picks a free port (default 8080).")
    var port: Int?

    func run() throws {
        var extra: [String: String] = [:]
        if let host { extra["server.host"] = host }
        if let port { extra["server.port"] = String(port) }
        Output.useLogFormat(from: ProcessInfo.processInfo.environment)
        let config = try common.load(extra: extra, report: Output.serverError)
        let status: Int32
        do { status = try PortalApp.serve(config: config) } catch {
            Output.serverError("sales-portal: \(error)")
            throw ExitCode(2)
        }
        throw ExitCode(status)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration: data folder, object store, warehouse, users file, pages.",
        discussion: """
            Reaches the object store and the warehouse as the server would, and says in plain words \
            what is wrong. It makes what the server would make at its start (the data folder, the \
            SQLite file, missing tables) and a probe file it removes, nothing else. Exits 0 when \
            nothing is wrong (warnings allowed), 1 when something is, 2 when the configuration \
            cannot be read.
            Examples:
              sales-portal check
              sales-portal check --config /etc/sales-portal.json
              SALES_PORTAL_MODE=gcp GOOGLE_CLOUD_PROJECT=acme-sales sales-portal check
            """)

    @OptionGroup var common: CommonOptions

    func run() throws {
        let config = try common.load()
        let findings = PortalApp.check(config: config)
        for finding in findings { Output.line(finding.line) }
        let problems = findings.filter { $0.level == .problem }.count
        let warnings = findings.filter { $0.level == .warning }.count
        if problems == 0 {
            Output.line(warnings == 0 ? "All checks passed." : "No problem found (\(warnings) warning\(warnings == 1 ? "" : "s")).")
        } else {
            Output.line("\(problems) problem\(problems == 1 ? "" : "s") found: fix \(problems == 1 ? "it" : "them") before serving.")
            throw ExitCode(1)
        }
    }
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load files through the same pipeline without HTTP; prints the upload result JSON.",
        discussion: """
            Exits 0 when every file was loaded (or was already), 1 otherwise.
            Examples:
              sales-portal ingest IN.csv UK.csv --data-dir ./data
              sales-portal ingest export-2024.csv --region USA --config /etc/sales-portal.json
            """)

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
        abstract: "Manage the users file (auth.mode local or iap).",
        discussion: """
            Examples:
              echo 'a long passphrase' | sales-portal users add ana --role admin --password-stdin
              sales-portal users add ravi@example.com --role uploader --regions IN,UK
              sales-portal users list --json
            """,
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user, or change its role, regions or password.",
            discussion: """
                Examples:
                  echo 'a long passphrase' | sales-portal users add ana --role admin --password-stdin
                  sales-portal users add ravi --role uploader --regions IN,UK --password-stdin < ravi.txt
                  sales-portal users add ravi --regions IN        (changes the regions only)
                """)
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
        static let configuration = CommandConfiguration(
            abstract: "List the users, their roles, regions and token labels.",
            discussion: """
                Examples:
                  sales-portal users list
                  sales-portal users list --json --config /etc/sales-portal.json
                """)
        @OptionGroup var common: CommonOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        func run() throws {
            let config = try common.load()
            try runAccountCommand { try AccountCommands.listUsers(config: config, json: json) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a user and its tokens.",
            discussion: """
                Examples:
                  sales-portal users remove ravi
                """)
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
        abstract: "API tokens for scripts (Authorization: Bearer).",
        discussion: """
            Examples:
              sales-portal tokens create ravi --name nightly-export
              sales-portal tokens revoke ravi nightly-export
            """,
        subcommands: [Create.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token for a user and print it, once.",
            discussion: """
                Examples:
                  sales-portal tokens create ravi --name nightly-export
                  curl -H "Authorization: Bearer TOKEN" -F file=@IN.csv http://HOST:8080/api/uploads
                """)
        @OptionGroup var common: CommonOptions
        @Argument(help: "The user the token acts for.") var user: String
        @Option(name: .long, help: "A label to revoke it by (default token-N).") var name: String?
        func run() throws {
            let config = try common.load()
            try runAccountCommand { try AccountCommands.createToken(config: config, user: user, label: name) }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a user's token by its label.",
            discussion: """
                Examples:
                  sales-portal tokens revoke ravi nightly-export
                """)
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
