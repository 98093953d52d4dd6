import Access
import Foundation
import HTTPServer

extension Gatekeeper {
    /// The gate of the configuration: reads the users file, the session key (creating it in
    /// the data folder when none is configured) and, in IAP mode, the signing keys.
    static func make(config: PortalConfig, log: (String) -> Void) throws -> Gatekeeper {
        guard let mode = Mode(rawValue: config.auth.mode) else { throw ConfigError.invalid("auth.mode \(config.auth.mode)") }
        let dataDir = FileSystem.absolute(config.storage.dataDir)
        let users: UserDirectory? = mode == .none ? nil : try UserDirectory(path: usersFilePath(config))
        if let users, users.count == 0 {
            log("the users file \(users.path) has no users yet: add one with `sales-portal users add NAME --role admin --password-stdin`")
        }
        let sessions = try SessionSigner(key: try sessionKey(config, dataDir: dataDir),
                                         lifetimeSeconds: Int64(config.auth.sessionMinutes) * 60)
        var iap: IAPVerifier?
        if mode == .iap {
            let source: IAPVerifier.KeySource = config.auth.iapKeysFile.isEmpty
                ? .url(config.auth.iapKeysURL, fetch: { url in try IAPKeyFetch.fetch(url) })
                : .file(FileSystem.absolute(config.auth.iapKeysFile))
            let verifier = try IAPVerifier(audience: config.auth.iapAudience, source: source)
            try verifier.loadKeys(now: now())
            iap = verifier
        }
        let throttle = LoginThrottle(limits: .init(
            windowSeconds: Int64(config.auth.loginWindowSeconds), maxFailuresPerAddress: config.auth.maxFailuresPerAddress,
            maxFailuresPerUser: config.auth.maxFailuresPerUser))
        return Gatekeeper(mode: mode, users: users, sessions: sessions, iap: iap, throttle: throttle,
                          hosts: AllowedHosts(configured: config.server.allowedHosts, boundHost: config.server.host),
                          behindTLS: config.server.hsts)
    }

    /// `auth.usersFile`, or `users.json` in the data folder.
    static func usersFilePath(_ config: PortalConfig) -> String {
        config.auth.usersFile.isEmpty
            ? FileSystem.absolute(config.storage.dataDir) + "/users.json" : FileSystem.absolute(config.auth.usersFile)
    }

    /// The configured key (hex or base64), else the one in `<dataDir>/session.key`, made once (0600).
    static func sessionKey(_ config: PortalConfig, dataDir: String) throws -> [UInt8] {
        let configured = config.auth.sessionKey.trimmingSpaces()
        if !configured.isEmpty {
            if let bytes = hexBytes(configured) ?? Base64URL.decode(configured), bytes.count >= 32 { return bytes }
            throw ConfigError.invalid("auth.sessionKey must be at least 32 bytes, as 64+ hex digits or base64")
        }
        let path = dataDir + "/session.key"
        if let data = FileManager.default.contents(atPath: path),
           let text = String(data: data, encoding: .utf8), let bytes = hexBytes(text.trimmingSpaces()), bytes.count >= 32 {
            return bytes
        }
        try FileSystem.makeDirectories(dataDir)
        let key = Secrets.randomBytes(32)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            // Another process made it first: use theirs.
            if errno == EEXIST, let data = FileManager.default.contents(atPath: path),
               let text = String(data: data, encoding: .utf8), let bytes = hexBytes(text.trimmingSpaces()), bytes.count >= 32 {
                return bytes
            }
            throw ConfigError.invalid("cannot create the session key \(path): \(String(cString: strerror(errno)))")
        }
        let text = Array((key.map { String(format: "%02x", $0) }.joined() + "\n").utf8)
        _ = text.withUnsafeBytes { Foundation.write(fd, $0.baseAddress!, $0.count) }
        fsync(fd)
        close(fd)
        return key
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
        var bytes: [UInt8] = []
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }


    /// Headers on every answer: no sniffing, no framing, no inline code, no referrer to other sites.
    static func securityHeaders(hsts: Bool) -> HTTPHeaders {
        var headers: HTTPHeaders = [
            "Content-Security-Policy":
                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        ]
        if hsts { headers.add("Strict-Transport-Security", "max-age=31536000; includeSubDomains") }
        return headers
    }

    /// Whether `host` is a loopback address or name.
    static func isLoopback(_ host: String) -> Bool {
        let lower = host.lowercased()
        return lower == "localhost" || lower == "::1" || lower == "[::1]" || lower.hasPrefix("127.")
    }

    /// Whether an allowed `Host` value (a name or address, with or without a port) is loopback.
    static func isLoopbackHostName(_ value: String) -> Bool {
        var host = Substring(value.trimmingSpaces())
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<end]
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            host = host[..<colon]
        }
        return isLoopback(String(host))
    }
}
