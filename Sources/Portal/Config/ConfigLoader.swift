import Foundation

/// Why the configuration could not be used.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unknownSetting(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read config file \(path): \(reason)"
        case .malformed(let path, let reason): "config file \(path) is not valid: \(reason)"
        case .unknownSetting(let key): "unknown setting \"\(key)\" (see Config/default.json for every setting)"
        case .invalid(let message): "invalid configuration: \(message)"
        }
    }
}

/// Builds the configuration: defaults, then a JSON file, then environment variables,
/// then command-line overrides — each layer wins over the one before.
public enum ConfigLoader {
    /// Environment variables and the setting each one sets.
    public static let environmentKeys: [(variable: String, path: String)] = [
        ("SALES_PORTAL_HOST", "server.host"),
        ("SALES_PORTAL_PORT", "server.port"),
        ("SALES_PORTAL_DATA_DIR", "storage.dataDir"),
        ("SALES_PORTAL_MODE", "storage.mode"),
        ("SALES_PORTAL_PUBLIC_DIR", "server.publicDir"),
        ("SALES_PORTAL_LOG_FORMAT", "server.logFormat"),
        ("SALES_PORTAL_ALLOWED_HOSTS", "server.allowedHosts"),
        ("SALES_PORTAL_TRUSTED_PROXIES", "server.trustedProxies"),
        ("SALES_PORTAL_AUTH_MODE", "auth.mode"),
        ("SALES_PORTAL_USERS_FILE", "auth.usersFile"),
        ("SALES_PORTAL_SESSION_KEY", "auth.sessionKey"),
        ("SALES_PORTAL_IAP_AUDIENCE", "auth.iapAudience"),
        ("GOOGLE_CLOUD_PROJECT", "gcp.project"),
        ("SALES_PORTAL_BUCKET", "gcp.bucket"),
        ("SALES_PORTAL_DATASET", "gcp.dataset"),
        ("SALES_PORTAL_TABLE", "gcp.table"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "gcp.credentialsFile"),
        ("STORAGE_EMULATOR_HOST", "gcp.storageEndpoint"),
        ("BIGQUERY_EMULATOR_HOST", "gcp.bigqueryEndpoint"),
    ]

    /// Loads the layers. `overrides` maps dotted setting paths (`server.port`) to values given as text.
    public static func load(
        file: String?, environment: [String: String], overrides: [String: String] = [:]
    ) throws(ConfigError) -> PortalConfig {
        var tree = defaultsTree()
        if let file {
            let fileTree = try readTree(file)
            try checkKnown(fileTree, against: tree, prefix: "")
            merge(fileTree, into: &tree)
        }
        // Cloud Run's contract (and other platforms'): listen on $PORT on every interface.
        // SALES_PORTAL_HOST / SALES_PORTAL_PORT and flags still win over it.
        if let port = environment["PORT"], !port.isEmpty {
            try set("server.port", text: port, in: &tree)
            try set("server.host", text: "0.0.0.0", in: &tree)
        }
        for (variable, path) in environmentKeys {
            if let value = environment[variable], !value.isEmpty { try set(path, text: value, in: &tree) }
        }
        for (path, value) in overrides.sorted(by: { $0.key < $1.key }) { try set(path, text: value, in: &tree) }
        let config: PortalConfig
        do {
            let data = try JSONSerialization.data(withJSONObject: tree)
            config = try JSONDecoder().decode(PortalConfig.self, from: data)
        } catch {
            throw .invalid(describe(error))
        }
        try config.validate()
        return config
    }

    // MARK: - The JSON tree

    private static func defaultsTree() -> [String: Any] {
        // Encoding a value type with known shape cannot fail.
        let data = try! JSONEncoder().encode(PortalConfig())
        return (try! JSONSerialization.jsonObject(with: data)) as! [String: Any]
    }

    private static func readTree(_ path: String) throws(ConfigError) -> [String: Any] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw .unreadable(path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw .unreadable(path: path, reason: "it is a folder") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: "permission denied or not a regular file")
        }
        do {
            guard let tree = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigError.malformed(path: path, reason: "the top level must be a JSON object")
            }
            return tree
        } catch let error as ConfigError {
            throw error
        } catch {
            throw .malformed(path: path, reason: describe(error))
        }
    }

    /// Rejects keys the defaults do not have: a typo must not be silently ignored.
    /// Maps (`storageHeaders`) and lists (`regions`) take any content.
    private static func checkKnown(_ tree: [String: Any], against known: [String: Any], prefix: String) throws(ConfigError) {
        // In key order, so that a file with several unknown keys always names the same one.
        for key in tree.keys.sorted() {
            let value = tree[key]!
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard let knownValue = known[key] else { throw .unknownSetting(path) }
            if let inner = value as? [String: Any], let knownInner = knownValue as? [String: Any], !knownInner.isEmpty {
                try checkKnown(inner, against: knownInner, prefix: path)
            }
        }
    }

    private static func merge(_ source: [String: Any], into target: inout [String: Any]) {
        for (key, value) in source {
            if let inner = value as? [String: Any], var existing = target[key] as? [String: Any], !existing.isEmpty {
                merge(inner, into: &existing)
                target[key] = existing
            } else {
                target[key] = value
            }
        }
    }

    /// Sets one dotted path from text, typed like the default it replaces.
    static func set(_ path: String, text: String, in tree: inout [String: Any]) throws(ConfigError) {
        let keys = path.split(separator: ".").map(String.init)
        try set(keys[...], path: path, text: text, in: &tree)
    }

    private static func set(_ keys: ArraySlice<String>, path: String, text: String, in tree: inout [String: Any]) throws(ConfigError) {
        guard let key = keys.first, let current = tree[key] else { throw .unknownSetting(path) }
        if keys.count > 1 {
            guard var inner = current as? [String: Any] else { throw .unknownSetting(path) }
            try set(keys.dropFirst(), path: path, text: text, in: &inner)
            tree[key] = inner
            return
        }
        if current is String {
            tree[key] = text
        } else if current is [Any] {
            // A list of strings from comma-separated text.
            tree[key] = text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        } else if let number = current as? NSNumber, type(of: number) == type(of: NSNumber(value: true)) {
            guard let flag = Bool(text.lowercased()) else { throw .invalid("\(path) must be true or false, not \"\(text)\"") }
            tree[key] = flag
        } else if current is NSNumber {
            guard let number = Int64(text) else { throw .invalid("\(path) must be a whole number, not \"\(text)\"") }
            tree[key] = number
        } else {
            throw .invalid("\(path) cannot be set from text")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.typeMismatch(let type, let context) = error {
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) must be \(type)"
        }
        if case DecodingError.keyNotFound(let key, let context) = error {
            return "\((context.codingPath + [key]).map(\.stringValue).joined(separator: ".")) is missing"
        }
        return String(describing: error)
    }
}
