// `sales-portal check`: what an operator runs before starting the portal, or in a deploy
// pipeline: the configuration, the data folder, the object store, the warehouse, the users
// file and the pages, each said in plain words.

import Access
import Foundation

/// One finding of `sales-portal check`.
public struct CheckFinding: Sendable, Equatable {
    public enum Level: String, Sendable {
        case ok
        /// Works, but an operator should know (nothing stops the portal from starting).
        case warning
        /// The portal would not start, or would start and fail, or is not safe as set up.
        case problem
    }

    public var level: Level
    public var subject: String
    public var detail: String

    /// `ok       subject: detail`, the level padded so the subjects line up.
    public var line: String {
        let label = level == .problem ? "PROBLEM" : level.rawValue
        return label.padding(toLength: 9, withPad: " ", startingAt: 0) + subject + ": " + detail
    }
}

extension PortalApp {
    /// Runs every check of the configuration. It makes what a start would make (folders, the
    /// SQLite file, missing tables) and a probe file it removes, nothing else.
    public static func check(config: PortalConfig) -> [CheckFinding] {
        var findings: [CheckFinding] = []
        func add(_ level: CheckFinding.Level, _ subject: String, _ detail: String) {
            findings.append(CheckFinding(level: level, subject: subject, detail: detail))
        }
        let dataDir = FileSystem.absolute(config.storage.dataDir)
        if config.isGCP {
            add(.ok, "configuration", "gcp mode: project \(config.gcp.project), bucket gs://\(config.gcp.bucket), "
                + "table \(config.gcp.dataset).\(config.gcp.table); spool files in \(dataDir)/spool")
        } else {
            add(.ok, "configuration", "embedded mode: objects and the SQLite warehouse in \(dataDir)")
        }
        findings += checkDataFolder(dataDir)
        if findings.last?.level != .problem {
            do {
                let wiring = try makeWiring(config: config)
                do {
                    try wiring.processor.store.checkReady()
                    add(.ok, "object store", config.isGCP ? "bucket gs://\(config.gcp.bucket) answers and takes writes"
                        : "\(dataDir)/objects takes writes")
                } catch {
                    add(.problem, "object store", "\(error)")
                }
                do {
                    try wiring.processor.warehouse.checkReady()
                    add(.ok, "warehouse", config.isGCP ? "table \(config.gcp.dataset).\(config.gcp.table) answers"
                        : "\(dataDir)/warehouse.sqlite opens and takes writes")
                } catch {
                    add(.problem, "warehouse", "\(error)")
                }
            } catch {
                add(.problem, "storage", "\(error)")
            }
        }
        findings += checkAccess(config)
        if let pages = locatePublicDirectory(config.server.publicDir), FileSystem.exists(pages + "/index.html") {
            add(.ok, "pages", "served from \(pages)")
        } else {
            add(.warning, "pages", "no Public folder with index.html found\(config.server.publicDir.isEmpty ? "" : " at \(config.server.publicDir)"): "
                + "the upload page, the dashboard and the sign-in page are not served (the API is); set server.publicDir")
        }
        return findings
    }

    /// The data folder exists (or can be made) and takes files.
    private static func checkDataFolder(_ dataDir: String) -> [CheckFinding] {
        do {
            try FileSystem.makeDirectories(dataDir + "/spool")
        } catch {
            return [CheckFinding(level: .problem, subject: "data folder", detail: "cannot create \(dataDir)/spool: \(error)")]
        }
        let probe = dataDir + "/spool/.check-\(getpid())"
        guard FileManager.default.createFile(atPath: probe, contents: Data("probe".utf8)) else {
            return [CheckFinding(level: .problem, subject: "data folder", detail: "cannot write in \(dataDir)/spool")]
        }
        try? FileManager.default.removeItem(atPath: probe)
        return [CheckFinding(level: .ok, subject: "data folder", detail: "\(dataDir) takes files")]
    }

    /// The users file and the session key: present, readable, not readable by others.
    private static func checkAccess(_ config: PortalConfig) -> [CheckFinding] {
        var findings: [CheckFinding] = []
        switch config.auth.mode {
        case "none":
            findings.append(CheckFinding(level: .ok, subject: "access", detail:
                "auth.mode none: only clients on this machine (loopback) are served, each as an admin"))
            return findings
        default:
            findings.append(CheckFinding(level: .ok, subject: "access", detail: "auth.mode \(config.auth.mode)"))
        }
        let path = Gatekeeper.usersFilePath(config)
        if !FileSystem.exists(path) {
            findings.append(CheckFinding(level: .problem, subject: "users file", detail:
                "\(path) does not exist: nobody can sign in; add an admin with "
                + "`sales-portal users add NAME --role admin --password-stdin`"))
        } else {
            do {
                let file = try UsersFile.read(path)
                let admins = file.users.filter { $0.role == .admin }.count
                if admins == 0 {
                    findings.append(CheckFinding(level: .warning, subject: "users file", detail:
                        "\(path) has \(file.users.count) user(s) and no admin: nobody can manage users or take uploads back"))
                } else {
                    findings.append(CheckFinding(level: .ok, subject: "users file", detail:
                        "\(path): \(file.users.count) user(s), \(admins) admin(s)"))
                }
            } catch {
                findings.append(CheckFinding(level: .problem, subject: "users file", detail: "\(path) cannot be read: \(error)"))
            }
            findings += checkPrivate(path, what: "users file", holds: "password and token hashes")
        }
        if config.auth.sessionKey.isEmpty {
            let keyFile = FileSystem.absolute(config.storage.dataDir) + "/session.key"
            if FileSystem.exists(keyFile) {
                findings += checkPrivate(keyFile, what: "session key", holds: "the key that signs session cookies")
            }
        }
        return findings
    }

    /// A problem when group or others may read or write `path`.
    private static func checkPrivate(_ path: String, what: String, holds: String) -> [CheckFinding] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 != 0 else { return [] }
        return [CheckFinding(level: .problem, subject: what, detail:
            "\(path) holds \(holds) and others may read it (mode \(String(mode, radix: 8))): run `chmod 600 \(path)`")]
    }
}
