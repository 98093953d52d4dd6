import Access
import ETL
import Foundation
import Support

/// `sales-portal users …` and `sales-portal tokens …`: the users file, edited from the command
/// line. Nothing secret is printed but the one token `createToken` makes.
public enum AccountCommands {
    /// Adds a user, or changes its role, regions and password: what is not given (nil) is kept, so a
    /// password reset never widens what the user may see. A new user needs a role, and a new viewer or
    /// uploader its regions (a new admin defaults to all of them).
    public static func addUser(config: PortalConfig, name: String, role roleText: String?, regions regionText: String?,
                               password: String?) throws -> String {
        try UsersFile.validateName(name)
        let role = try roleText.map { text throws(AccessError) -> Role in
            guard let role = Role(rawValue: text.lowercased()) else {
                throw AccessError.invalid("--role must be viewer, uploader or admin, not \"\(text)\"")
            }
            return role
        }
        let scope = try regionText.map { text throws(AccessError) -> RegionScope in
            guard let scope = RegionScope.parse(text) else {
                throw AccessError.invalid("--regions must be * or region codes separated by commas (IN,UK), not \"\(text)\"")
            }
            return scope
        }
        if case .only(let codes)? = scope {
            let known = Set(config.regions.map { $0.code.uppercased() })
            let unknown = codes.subtracting(known).sorted()
            guard unknown.isEmpty else {
                throw AccessError.invalid("unknown region(s) \(unknown.joined(separator: ", ")); configured: \(known.sorted().joined(separator: ", "))")
            }
        }
        if let password {
            guard password.count >= 12 else { throw AccessError.invalid("a password must have at least 12 characters") }
        }
        let hash = try password.map { password throws(AccessError) in try Secrets.hashPassword(password) }
        return try edit(config, audit: { message in message.hasPrefix("added") ? ("user_added", name) : ("user_changed", name) }) { file in
            if let index = file.users.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) {
                if let role { file.users[index].role = role }
                if let scope { file.users[index].regions = scope.list }
                if let hash { file.users[index].password = hash }
                let user = file.users[index]
                return "updated \(user.name): \(user.role.rawValue), regions \(user.regions.joined(separator: ","))"
                    + (hash != nil ? ", new password" : "")
            }
            guard let role else { throw AccessError.invalid("no user \"\(name)\" yet: a new user needs --role") }
            guard let newScope = scope ?? (role == .admin ? .all : nil) else {
                throw AccessError.invalid("a new \(role.rawValue) needs --regions (region codes such as IN,UK, or * for all)")
            }
            file.users.append(UserAccount(name: name, role: role, regions: newScope, password: hash))
            return "added \(name): \(role.rawValue), regions \(newScope.list.joined(separator: ","))" + (hash != nil ? ", with a password" : "")
        }
    }

    /// Removes a user and its tokens.
    public static func removeUser(config: PortalConfig, name: String) throws -> String {
        try edit(config, audit: { _ in ("user_removed", name) }) { file in
            guard let index = file.users.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw AccessError.invalid("no user \"\(name)\"")
            }
            file.users.remove(at: index)
            return "removed \(name)"
        }
    }

    /// The users, one line each (or JSON); never a hash.
    public static func listUsers(config: PortalConfig, json: Bool) throws -> String {
        let file = try UsersFile.read(Gatekeeper.usersFilePath(config))
        if json {
            let entries: [[String: Any]] = file.users.map {
                ["name": $0.name, "role": $0.role.rawValue, "regions": $0.regions, "password": $0.password != nil,
                 "tokens": $0.tokens.map(\.label)]
            }
            let data = try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        if file.users.isEmpty { return "no users in \(Gatekeeper.usersFilePath(config))" }
        return file.users.map { user in
            let tokens = user.tokens.isEmpty ? "no tokens" : "tokens: " + user.tokens.map(\.label).joined(separator: ", ")
            return "\(user.name)\t\(user.role.rawValue)\t\(user.regions.joined(separator: ","))\t"
                + (user.password != nil ? "password" : "no password") + "\t\(tokens)"
        }.joined(separator: "\n")
    }

    /// Makes a token for a user; returns it (the only time it exists outside the client).
    public static func createToken(config: PortalConfig, user: String, label: String?) throws -> String {
        let token = Secrets.newToken()
        _ = try edit(config, audit: { message in ("token_created", user) }) { file in
            guard let index = file.users.firstIndex(where: { $0.name.lowercased() == user.lowercased() }) else {
                throw AccessError.invalid("no user \"\(user)\"; add it first with `sales-portal users add`")
            }
            let existing = Set(file.users[index].tokens.map(\.label))
            let chosen: String
            if let label {
                guard !label.isEmpty, label.count <= 64, !label.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) else {
                    throw AccessError.invalid("a token label is 1 to 64 characters without spaces")
                }
                guard !existing.contains(label) else { throw AccessError.invalid("\(user) already has a token named \"\(label)\"") }
                chosen = label
            } else {
                var number = file.users[index].tokens.count + 1
                while existing.contains("token-\(number)") { number += 1 }
                chosen = "token-\(number)"
            }
            let created = ISO8601DateFormatter().string(from: Date())
            file.users[index].tokens.append(APIToken(label: chosen, sha256: Secrets.tokenHash(token), created: created))
            return "token \(chosen) created for \(file.users[index].name)"
        }
        return token
    }

    /// Revokes a user's token by its label.
    public static func revokeToken(config: PortalConfig, user: String, label: String) throws -> String {
        try edit(config, audit: { _ in ("token_revoked", user) }) { file in
            guard let index = file.users.firstIndex(where: { $0.name.lowercased() == user.lowercased() }) else {
                throw AccessError.invalid("no user \"\(user)\"")
            }
            guard let tokenIndex = file.users[index].tokens.firstIndex(where: { $0.label == label }) else {
                throw AccessError.invalid("\(user) has no token named \"\(label)\"")
            }
            file.users[index].tokens.remove(at: tokenIndex)
            return "revoked \(user)'s token \(label)"
        }
    }

    /// Reads, changes and writes the users file under an exclusive lock, so two commands at once lose nothing.
    private static func edit(_ config: PortalConfig, audit: (String) -> (kind: String, subject: String),
                             _ change: (inout UsersFile) throws -> String) throws -> String {
        let path = Gatekeeper.usersFilePath(config)
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw AccessError.usersFile("cannot lock \(path): \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        var file = try UsersFile.read(path)
        let message = try change(&file)
        try file.write(to: path)
        let (kind, subject) = audit(message)
        recordAudit(config, kind: kind, subject: subject, detail: message)
        return message
    }

    /// Adds the change to the audit trail in the warehouse of the configuration; a warehouse that
    /// cannot be reached is reported, and the change stands.
    private static func recordAudit(_ config: PortalConfig, kind: String, subject: String, detail: String) {
        let host = ProcessInfo.processInfo.hostName
        let actor = "command line (\(ProcessInfo.processInfo.userName)@\(host))"
        do {
            let warehouse = try PortalApp.makeProcessor(config: config).warehouse
            try warehouse.recordAudit(AuditEvent(atMicros: Clock.nowMicros(), actor: actor, kind: kind, subject: subject,
                                                 address: "", detail: detail))
        } catch {
            Output.errorLine("sales-portal: the change is made, but the audit trail could not record it: \(error)")
        }
    }
}
