import ETL
import GoogleCloud
import HTTPServer

/// Every setting of the portal. The values here are the defaults; `Config/default.json`
/// lists the same values for people to read and copy (a test keeps the two equal).
public struct PortalConfig: Codable, Sendable, Equatable {
    public var server = ServerSettings()
    public var storage = StorageSettings()
    public var gcp = GCPSettings()
    public var auth = AuthSettings()
    public var gcsEvents = GCSEventSettings()
    public var etl = ETLConfig()
    public var regions: [RegionConfig] = RegionConfig.defaults

    public init() {}
}

/// The HTTP side: address, threads, limits, timeouts.
public struct ServerSettings: Codable, Sendable, Equatable {
    public var host = "127.0.0.1"
    /// 0 picks any free port (printed at start).
    public var port = 8080
    public var eventLoopThreads = 2
    /// Threads that run warehouse queries and status pages.
    public var workerThreads = 4
    /// Threads that compute report answers not already cached (scans over many rows), at a low
    /// CPU priority; 0 = one per core (the work is CPU-bound: more would only share the cores).
    public var computeThreads = 0
    /// Threads that receive and load uploads (the most uploads handled at once; more wait their turn).
    public var uploadThreads = 4
    public var accessLog = true
    /// Count requests, uploads, loads and queries for `GET /metrics`. Off: no `/metrics` route
    /// and nothing counted per request (to measure what counting costs).
    public var metrics = true
    /// `text` (lines as they are, for a terminal) or `json` (one JSON object per line, with the
    /// field names Google Cloud Logging reads), for the access log and every other log line.
    public var logFormat = "text"
    public var limits = LimitSettings()
    public var timeouts = TimeoutSettings()
    /// How long a stop waits for requests in flight.
    public var shutdownGraceMs = 10_000
    /// The longest a report question may run in SQLite before it is stopped and answered
    /// 503 `query_timeout`, so expensive questions cannot hold the query threads; 0 = no limit.
    public var queryTimeoutMs = 15_000
    /// Folder of the static files; empty = `Public` beside the working directory or the executable.
    public var publicDir = ""
    /// `Host` values answered (`name:port`, or `name` for any port); others get 421, which stops
    /// DNS rebinding. Empty = the bound address, `localhost`, `127.0.0.1` and `[::1]`, each with the bound port.
    public var allowedHosts: [String] = []
    /// Proxies in front (IPv4 addresses or networks such as `35.191.0.0/16`) whose `X-Forwarded-For`
    /// names the client: for per-client limits, sign-in throttling and the audit trail's addresses.
    /// Empty = none: every client is its TCP peer.
    public var trustedProxies: [String] = []
    /// Behind TLS: send `Strict-Transport-Security` and mark session cookies `Secure` always.
    public var hsts = false
}

/// Who may use the portal: see "Access control" in the README.
public struct AuthSettings: Codable, Sendable, Equatable {
    /// `none` (loopback only, everyone is an admin), `local` (users file) or `iap` (Identity-Aware Proxy).
    public var mode = "none"
    /// Empty = `<dataDir>/users.json`.
    public var usersFile = ""
    /// HMAC key of session cookies, 64+ hex digits; empty = generated into `<dataDir>/session.key`.
    /// Replicas must share it.
    public var sessionKey = ""
    /// How long a browser session lasts.
    public var sessionMinutes = 720
    /// IAP: the expected `aud` (`/projects/NUMBER/global/backendServices/ID` or `/projects/NUMBER/apps/PROJECT`).
    public var iapAudience = ""
    /// IAP: a JWK set file of the signing keys; empty = `iapKeysURL`.
    public var iapKeysFile = ""
    public var iapKeysURL = "https://www.gstatic.com/iap/verify/public_key-jwk"
    /// Failed sign-ins are counted over this window…
    public var loginWindowSeconds = 900
    /// …per client address (any user names)…
    public var maxFailuresPerAddress = 20
    /// …and per user from one address.
    public var maxFailuresPerUser = 5
}

/// Files dropped into the bucket are loaded: Cloud Storage notifications reach
/// `POST /api/events/gcs` through a Pub/Sub push subscription (see the README's "Files dropped
/// into the bucket"). Needs `storage.mode = "gcp"`.
public struct GCSEventSettings: Codable, Sendable, Equatable {
    /// Off: the route answers 404.
    public var enabled = false
    /// The `aud` of the push tokens: the subscription's `--push-auth-token-audience`.
    public var audience = ""
    /// The `email` of the push tokens: the subscription's `--push-auth-service-account`.
    public var serviceAccount = ""
    /// Google's signing keys of ID tokens, as a JWK set.
    public var keysURL = "https://www.googleapis.com/oauth2/v3/certs"
    /// A JWK set file used instead of `keysURL` (tests).
    public var keysFile = ""
    /// Which objects are loaded: `/`-separated segments, each literal, `{region}` (the region's
    /// code or alias) or `{name}` (the file name, last); without `{region}` the region comes from
    /// the file name as for uploads. Other objects are acknowledged and ignored.
    public var objectPattern = "incoming/{region}/{name}"
    /// The bucket whose notifications are taken; empty = `gcp.bucket`.
    public var bucket = ""
}

/// Request limits.
public struct LimitSettings: Codable, Sendable, Equatable {
    public var maxRequestLineBytes = 8192
    public var maxHeaderBytes = 65_536
    public var maxHeaderCount = 100
    /// Bodies of ordinary requests (JSON, forms without files).
    public var maxBufferedBodyBytes = 1 << 20
    /// A whole upload request, all files together.
    public var maxUploadBytes: Int64 = 4 << 30
    public var maxFilesPerUpload = 20
    /// Open connections one client address may hold; more are answered 503 and closed.
    public var maxConnectionsPerClient = 1024
    /// Queries and status requests that may wait for a query thread; more are answered 503
    /// `busy` at once (and `/readyz` says `saturated` from half of it).
    public var maxQueuedRequests = 256
    /// Uploads (and retractions) one client address may have in progress; more are answered 429.
    public var maxUploadsPerClient = 3
    /// Report questions one client address may have computed at once (answers from the cache
    /// are not counted); more are answered 429 `too_many_queries`.
    public var maxQueriesPerClient = 3
}

/// Per-phase timeouts, in milliseconds.
public struct TimeoutSettings: Codable, Sendable, Equatable {
    public var requestHeadMs = 10_000
    public var bodyInactivityMs = 30_000
    /// A body slower than this (bytes/s) over a window of `bodyRateWindowMs` in which the server
    /// was reading it is cut off with 408; `bodyDeadlineMs` bounds a body in all.
    public var minBodyBytesPerSecond = 10_240
    public var bodyRateWindowMs = 30_000
    public var bodyDeadlineMs = 3_600_000
    public var idleKeepAliveMs = 60_000
    public var writeMs = 30_000
}

/// Where raw files and rows live.
public struct StorageSettings: Codable, Sendable, Equatable {
    /// `embedded` (local folder + SQLite) or `gcp` (Cloud Storage + BigQuery).
    public var mode = "embedded"
    /// Objects, the SQLite database and the spool of files in flight.
    public var dataDir = "./var"
    /// Raw files of uploads rejected as a whole (empty, not CSV, missing columns) are deleted
    /// after this many days; their records stay and say so. 0 = at the next sweep.
    public var rejectedFileRetentionDays = 7
    /// How often such files are looked for.
    public var retentionSweepSeconds = 3600

    public init(mode: String = "embedded", dataDir: String = "./var") {
        self.mode = mode
        self.dataDir = dataDir
    }
}

/// The Google Cloud deployment.
public struct GCPSettings: Codable, Sendable, Equatable {
    public var project = ""
    public var bucket = "sales-uploads"
    public var dataset = "sales"
    public var table = "orders"
    public var location = "US"
    /// A service-account or authorized-user JSON file; empty = Application Default Credentials.
    public var credentialsFile = ""
    /// Emulator endpoints, e.g. `http://127.0.0.1:9023`; empty = Google's.
    public var storageEndpoint = ""
    public var bigqueryEndpoint = ""
    /// Constant extra request headers per service (e.g. `x-goog-user-project`).
    public var storageHeaders: [String: String] = [:]
    public var bigqueryHeaders: [String: String] = [:]
    /// Resumable upload chunk, a multiple of 256 KiB.
    public var uploadChunkBytes = 8 << 20
    /// Rows per BigQuery insertAll request (at most 50,000; requests are also kept under 9 MB of JSON).
    public var insertBatchRows = 2000
    /// insertAll requests in flight at once.
    public var concurrentInserts = 10
    /// Rows the ETL hands to BigQuery at a time (`etl.batchSize` is for SQLite): enough for
    /// every concurrent request to be full.
    public var loadBatchRows = 20_000
    /// Retries of a failed call, as Google's clients do them: a first wait of up to
    /// `retryInitialMs`, doubling to at most `retryMaxSeconds`, for `retryDeadlineSeconds` in all.
    public var retryInitialMs = 1000
    public var retryMaxSeconds = 32
    public var retryDeadlineSeconds = 120

    /// The retry policy of these settings.
    var retryPolicy: RetryPolicy {
        RetryPolicy(initialBackoff: Double(retryInitialMs) / 1000, maxBackoff: Double(retryMaxSeconds),
                    deadline: Double(retryDeadlineSeconds))
    }
}

/// The ETL's settings.
public struct ETLConfig: Codable, Sendable, Equatable {
    public var batchSize = 5000
    public var maxRecordBytes = 1 << 20
    public var maxRejectsReported = 20
    public var dedupeWindowRows = 100_000
    /// A line beyond these (|quantity|, |quantity × unit price| in currency units) is rejected as `out_of_range`.
    public var maxAbsQuantity: Int64 = 1_000_000_000
    public var maxAbsLineRevenue: Int64 = 1_000_000_000
    public var nonProductStockCodes = [
        "POST", "DOT", "D", "M", "C2", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
        "ADJUST", "ADJUST2", "TEST001", "TEST002",
    ]
    public var nonProductStockCodePrefixes = ["GIFT_"]
}

/// One sales region: its code, the names it may go by, how its files write dates, its currency.
public struct RegionConfig: Codable, Sendable, Equatable {
    public var code: String
    public var aliases: [String]
    /// `MDY` or `DMY`.
    public var dateOrder: String
    public var currency: String

    public init(code: String, aliases: [String], dateOrder: String, currency: String) {
        self.code = code
        self.aliases = aliases
        self.dateOrder = dateOrder
        self.currency = currency
    }

    /// The seed system's regions. Its files are rows of a UK retailer's data set, priced in GBP.
    public static let defaults = [
        RegionConfig(code: "IN", aliases: ["INDIA"], dateOrder: "MDY", currency: "GBP"),
        RegionConfig(code: "UK", aliases: ["GB", "GBR", "UNITED KINGDOM", "ENGLAND"], dateOrder: "MDY", currency: "GBP"),
        RegionConfig(code: "USA", aliases: ["US", "UNITED STATES", "AMERICA"], dateOrder: "MDY", currency: "GBP"),
    ]
}

extension PortalConfig {
    /// True in Google Cloud mode.
    public var isGCP: Bool { storage.mode == "gcp" }

    /// The ETL's rules for one region.
    func regionRules(_ region: RegionConfig) -> RegionRules {
        RegionRules(
            code: region.code, aliases: region.aliases,
            dateOrder: DateOrder(rawValue: region.dateOrder.uppercased()) ?? .mdy, currency: region.currency
        )
    }

    /// The ETL's settings.
    var etlSettings: ETLSettings {
        var settings = ETLSettings()
        settings.batchSize = isGCP ? gcp.loadBatchRows : etl.batchSize
        settings.maxRecordBytes = etl.maxRecordBytes
        settings.maxRejectsReported = etl.maxRejectsReported
        settings.dedupeWindowRows = etl.dedupeWindowRows
        settings.maxAbsQuantity = etl.maxAbsQuantity
        settings.maxAbsLineRevenue = etl.maxAbsLineRevenue
        settings.nonProductStockCodes = Set(etl.nonProductStockCodes.map { $0.uppercased() })
        settings.nonProductStockCodePrefixes = etl.nonProductStockCodePrefixes.map { $0.uppercased() }
        return settings
    }

    /// Checks what JSON cannot: ranges and names.
    func validate() throws(ConfigError) {
        guard storage.mode == "embedded" || storage.mode == "gcp" else {
            throw .invalid("storage.mode must be \"embedded\" or \"gcp\", not \"\(storage.mode)\"")
        }
        guard (0...65_535).contains(server.port) else { throw .invalid("server.port must be 0…65535") }
        guard LogFormat(rawValue: server.logFormat) != nil else {
            throw .invalid("server.logFormat must be \"text\" or \"json\", not \"\(server.logFormat)\"")
        }
        guard server.eventLoopThreads >= 1, server.workerThreads >= 1, server.uploadThreads >= 1, server.computeThreads >= 0 else {
            throw .invalid("server.eventLoopThreads, server.workerThreads and server.uploadThreads must be at least 1, server.computeThreads at least 0")
        }
        guard etl.batchSize >= 1 else { throw .invalid("etl.batchSize must be at least 1") }
        do { _ = try TrustedProxies(parsing: server.trustedProxies) } catch {
            throw .invalid("server.trustedProxies: \"\(error.entry)\" is neither an IPv4 address nor a network such as 10.0.0.0/8")
        }
        let positives: [(String, Int64)] = [
            ("server.limits.maxRequestLineBytes", Int64(server.limits.maxRequestLineBytes)),
            ("server.limits.maxHeaderBytes", Int64(server.limits.maxHeaderBytes)),
            ("server.limits.maxHeaderCount", Int64(server.limits.maxHeaderCount)),
            ("server.limits.maxBufferedBodyBytes", Int64(server.limits.maxBufferedBodyBytes)),
            ("server.limits.maxUploadBytes", server.limits.maxUploadBytes),
            ("server.limits.maxFilesPerUpload", Int64(server.limits.maxFilesPerUpload)),
            ("server.limits.maxConnectionsPerClient", Int64(server.limits.maxConnectionsPerClient)),
            ("server.limits.maxQueuedRequests", Int64(server.limits.maxQueuedRequests)),
            ("server.limits.maxQueriesPerClient", Int64(server.limits.maxQueriesPerClient)),
            ("server.limits.maxUploadsPerClient", Int64(server.limits.maxUploadsPerClient)),
            ("server.timeouts.requestHeadMs", Int64(server.timeouts.requestHeadMs)),
            ("server.timeouts.bodyInactivityMs", Int64(server.timeouts.bodyInactivityMs)),
            ("server.timeouts.idleKeepAliveMs", Int64(server.timeouts.idleKeepAliveMs)),
            ("server.timeouts.writeMs", Int64(server.timeouts.writeMs)),
            ("server.timeouts.bodyRateWindowMs", Int64(server.timeouts.bodyRateWindowMs)),
            ("server.timeouts.bodyDeadlineMs", Int64(server.timeouts.bodyDeadlineMs)),
            ("etl.maxRecordBytes", Int64(etl.maxRecordBytes)),
            ("etl.maxAbsQuantity", etl.maxAbsQuantity),
            ("etl.maxAbsLineRevenue", etl.maxAbsLineRevenue),
        ]
        for (name, value) in positives where value < 1 {
            throw .invalid("\(name) must be at least 1, not \(value)")
        }
        guard server.shutdownGraceMs >= 0, server.queryTimeoutMs >= 0, etl.maxRejectsReported >= 0, etl.dedupeWindowRows >= 0 else {
            throw .invalid("server.shutdownGraceMs, etl.maxRejectsReported and etl.dedupeWindowRows must not be negative")
        }
        guard storage.rejectedFileRetentionDays >= 0, storage.retentionSweepSeconds >= 1 else {
            throw .invalid("storage.rejectedFileRetentionDays must not be negative and storage.retentionSweepSeconds must be at least 1")
        }
        guard ["none", "local", "iap"].contains(auth.mode) else {
            throw .invalid("auth.mode must be \"none\", \"local\" or \"iap\", not \"\(auth.mode)\"")
        }
        for (name, value) in [("auth.sessionMinutes", auth.sessionMinutes), ("auth.loginWindowSeconds", auth.loginWindowSeconds),
                              ("auth.maxFailuresPerAddress", auth.maxFailuresPerAddress),
                              ("auth.maxFailuresPerUser", auth.maxFailuresPerUser)] where value < 1 {
            throw .invalid("\(name) must be at least 1, not \(value)")
        }
        if auth.mode == "iap" && auth.iapAudience.isEmpty {
            throw .invalid("auth.iapAudience is required in iap mode (see the README's Cloud Run section)")
        }
        if gcsEvents.enabled {
            guard isGCP else { throw .invalid("gcsEvents.enabled needs storage.mode \"gcp\": the files are read from a Cloud Storage bucket") }
            guard !gcsEvents.audience.isEmpty, !gcsEvents.serviceAccount.isEmpty else {
                throw .invalid("gcsEvents.audience and gcsEvents.serviceAccount are required when gcsEvents.enabled is true")
            }
            guard !gcsEvents.keysFile.isEmpty || !gcsEvents.keysURL.isEmpty else {
                throw .invalid("gcsEvents.keysURL or gcsEvents.keysFile must name Google's signing keys")
            }
            do { _ = try ObjectPattern(gcsEvents.objectPattern) } catch { throw .invalid("gcsEvents.objectPattern: \(error)") }
        }
        guard !regions.isEmpty else { throw .invalid("regions must name at least one region") }
        for region in regions where DateOrder(rawValue: region.dateOrder.uppercased()) == nil {
            throw .invalid("regions[\(region.code)].dateOrder must be MDY or DMY")
        }
        if isGCP {
            guard !gcp.project.isEmpty else { throw .invalid("gcp.project is required in gcp mode (or GOOGLE_CLOUD_PROJECT)") }
            guard gcp.uploadChunkBytes > 0, gcp.uploadChunkBytes % (256 * 1024) == 0 else {
                throw .invalid("gcp.uploadChunkBytes must be a positive multiple of 262144")
            }
            guard gcp.retryInitialMs >= 1, gcp.retryMaxSeconds >= 1, gcp.retryDeadlineSeconds >= 1 else {
                throw .invalid("gcp.retryInitialMs, gcp.retryMaxSeconds and gcp.retryDeadlineSeconds must be at least 1")
            }
            guard (1...64).contains(gcp.concurrentInserts), gcp.loadBatchRows >= 1 else {
                throw .invalid("gcp.concurrentInserts must be 1…64 and gcp.loadBatchRows at least 1")
            }
            guard (1...50_000).contains(gcp.insertBatchRows) else {
                throw .invalid("gcp.insertBatchRows must be 1…50000 (BigQuery's insertAll limit; about 500 is recommended)")
            }
            guard !gcp.bucket.isEmpty, !gcp.dataset.isEmpty, !gcp.table.isEmpty else {
                throw .invalid("gcp.bucket, gcp.dataset and gcp.table must not be empty in gcp mode")
            }
        }
    }
}
