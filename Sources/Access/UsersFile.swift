import Foundation
import Synchronization

/// One account of the users file.
public struct UserAccount: Codable, Sendable, Equatable {
    /// A name, or the e-mail address IAP signs in with.
    public var name: String
    public var role: Role
    /// `["*"]` or region codes.
    public var regions: [String]
    /// `pbkdf2-sha256$…`, or nil for accounts that only use tokens or IAP.
    public var password: String?
    public var tokens: [APIToken]

    public init(name: String, role: Role, regions: RegionScope, password: String? = nil, tokens: [APIToken] = []) {
        self.name = name
        self.role = role
        self.regions = regions.list
        self.password = password
        self.tokens = tokens
    }

    /// The regions as a scope.
    public var scope: RegionScope { RegionScope(list: regions) }
}

/// An API token as kept: its label and the SHA-256 of the secret.
public struct APIToken: Codable, Sendable, Equatable {
    public var label: String
    public var sha256: String
    /// When it was created (ISO 8601, UTC).
    public var created: String

    public init(label: String, sha256: String, created: String) {
        self.label = label
        self.sha256 = sha256
        self.created = created
    }
}

/// The users file: `{"users": [...]}`, mode 0600, replaced atomically when written.
public struct UsersFile: Codable, Sendable, Equatable {
    public var users: [UserAccount] = []

    public init(users: [UserAccount] = []) { self.users = users }

    /// The account with this name (names compare ignoring case).
    public func account(named name: String) -> UserAccount? {
        let key = name.lowercased()
        return users.first { $0.name.lowercased() == key }
    }

    /// Reads the file; a missing file is an empty one.
    public static func read(_ path: String) throws(AccessError) -> UsersFile {
        guard FileManager.default.fileExists(atPath: path) else { return UsersFile() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .usersFile("cannot read the users file \(path)")
        }
        do {
            return try JSONDecoder().decode(UsersFile.self, from: data)
        } catch {
            throw .usersFile("the users file \(path) is not valid: \(error)")
        }
    }

    /// Writes the file with mode 0600 through a temporary file and a rename, so a reader
    /// never sees half of it.
    public func write(to path: String) throws(AccessError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(self) } catch { throw .usersFile("cannot encode the users file: \(error)") }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .usersFile("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let bytes = [UInt8](data) + [10]
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress!, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                close(fd)
                unlink(temporary)
                throw .usersFile("cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw .usersFile("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Checks a user name: 1–254 printable characters without spaces, `:` or `$`.
    public static func validateName(_ name: String) throws(AccessError) {
        guard !name.isEmpty, name.utf8.count <= 254,
              name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "$") })
        else {
            throw .invalid("a user name is 1 to 254 printable characters without spaces, ':' or '$', not \"\(name)\"")
        }
    }
}

/// The users file as the server sees it: read again whenever it changes on disk, so that
/// `sales-portal users …` takes effect without a restart. Lookups are thread-safe.
public final class UserDirectory: Sendable {
    /// The file's path.
    public let path: String
    private let state: Mutex<Snapshot>

    private struct Snapshot {
        var stamp: FileStamp?
        var byName: [String: UserAccount] = [:]
        var byTokenHash: [String: (user: String, label: String)] = [:]
        var lastError: String?
    }

    private struct FileStamp: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, modifiedSeconds: Int, modifiedNanoseconds: Int
    }

    /// Reads the file now; a missing file means no users yet.
    public init(path: String) throws(AccessError) {
        self.path = path
        state = Mutex(Snapshot())
        let file = try UsersFile.read(path)
        state.withLock { $0 = Self.snapshot(file, stamp: Self.stamp(path)) }
    }

    /// The account with this name (ignoring case), from the current file.
    public func account(named name: String) -> UserAccount? {
        refreshIfChanged()
        return state.withLock { $0.byName[name.lowercased()] }
    }

    /// The account and label of an API token, from the current file.
    public func account(forToken token: String) -> (account: UserAccount, label: String)? {
        let hash = Secrets.tokenHash(token)
        refreshIfChanged()
        return state.withLock { snapshot in
            guard let entry = snapshot.byTokenHash[hash], let account = snapshot.byName[entry.user.lowercased()] else { return nil }
            return (account, entry.label)
        }
    }

    /// The number of accounts.
    public var count: Int {
        refreshIfChanged()
        return state.withLock { $0.byName.count }
    }

    private func refreshIfChanged() {
        let current = Self.stamp(path)
        let known = state.withLock { $0.stamp }
        guard current != known else { return }
        do {
            let file = try UsersFile.read(path)
            state.withLock { $0 = Self.snapshot(file, stamp: current) }
        } catch {
            // Keep serving the last good file; say once what is wrong with the new one.
            let message = "\(error)"
            let isNew = state.withLock { snapshot -> Bool in
                defer { snapshot.lastError = message; snapshot.stamp = current }
                return snapshot.lastError != message
            }
            if isNew {
                let line = "users file: \(message); keeping the accounts read before\n"
                _ = line.withCString { Foundation.write(2, $0, strlen($0)) }
            }
        }
    }

    private static func snapshot(_ file: UsersFile, stamp: FileStamp?) -> Snapshot {
        var snapshot = Snapshot(stamp: stamp)
        for account in file.users {
            snapshot.byName[account.name.lowercased()] = account
            for token in account.tokens { snapshot.byTokenHash[token.sha256] = (account.name, token.label) }
        }
        return snapshot
    }

    private static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                         modifiedSeconds: info.st_mtim.tv_sec, modifiedNanoseconds: info.st_mtim.tv_nsec)
    }
}
