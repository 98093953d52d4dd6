import CSystemLinux
import ETL
import Foundation
import GoogleCloud
import HTTPServer
import Support
import Warehouse

/// Wires the configuration to a store, a warehouse and the HTTP server, and runs them.
public enum PortalApp {
    /// The release, as `sales-portal --version` prints it.
    public static let version = "0.9.0"

    /// Serves until SIGTERM or SIGINT; returns the exit status (0 after a clean stop).
    public static func serve(config: PortalConfig) throws -> Int32 {
        HTTPServer.ignoreSIGPIPE()
        ServerLog.format = LogFormat(rawValue: config.server.logFormat) ?? .text
        ServerLog.traceProject = config.gcp.project
        // Block the stop signals before any thread starts, so every thread inherits the mask
        // and this thread alone receives them through sigwait.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        if config.auth.mode == "none" && !Gatekeeper.isLoopback(config.server.host) {
            throw ConfigError.invalid("""
                auth.mode is "none" (no sign-in, everyone is an admin), which is allowed only on a loopback address, \
                not on \(config.server.host). Set auth.mode to "local" (users file; see `sales-portal users add`) \
                or "iap" (behind Identity-Aware Proxy), or listen on 127.0.0.1
                """)
        }
        // Loopback behind a reverse proxy that serves a public name is no safer.
        if config.auth.mode == "none", let publicName = config.server.allowedHosts.first(where: { !Gatekeeper.isLoopbackHostName($0) }) {
            throw ConfigError.invalid("""
                auth.mode is "none" (no sign-in, everyone is an admin), but server.allowedHosts names \(publicName):                 a proxy would give every visitor of that name admin rights. Set auth.mode to "local" or "iap"
                """)
        }
        let wiring = try makeWiring(config: config)
        let processor = wiring.processor
        let readiness = Readiness(processor: processor, log: { log($0) })
        let (routes, gate) = try makeRoutes(config: config, processor: processor, readiness: readiness)
        // Listed before the server starts, so that no upload of this run is taken for one to resume.
        let unfinished = processor.unfinishedUploads(log: log)
        var serverSettings = serverConfiguration(config)
        let metrics = routes.metrics
        if metrics.countsRequests { serverSettings.onRefusal = { metrics.recordRefusal($0) } }
        let server = HTTPServer(configuration: serverSettings, router: routes.built)
        let port = try server.start()
        gate.hosts.bound(port: port)
        readiness.attach { server.load }
        routes.metrics.setSources { sources in
            sources.serverLoad = { server.load }
            if let gcp = wiring.gcp {
                let table = "\(gcp.warehouse.settings.dataset).\(gcp.warehouse.settings.ordersTable)"
                sources.insertAll = {
                    let totals = gcp.warehouse.client.insertAllCounters.snapshot(table: table)
                    return (Int(totals.requests), Int(totals.rows), Int(totals.jsonBytes), Int(totals.sentBytes))
                }
            }
        }
        readiness.startMonitoring()
        if config.server.allowedHosts.isEmpty && !Gatekeeper.isLoopback(config.server.host) {
            log("server.allowedHosts is empty: only requests for \(gate.hosts.entries.joined(separator: ", ")) are answered; list the names people use")
        }
        ServerLog.line("listening on http://\(config.server.host):\(port)", severity: .notice, toStandardOutput: true)

        if !unfinished.isEmpty {
            PThread.detach { processor.resume(unfinished, log: log) }
        }
        processor.startRejectedFileSweeper(log: { log($0) })

        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        log("stopping (signal \(received)): finishing requests in flight")
        server.shutdown(gracePeriodMilliseconds: config.server.shutdownGraceMs)
        server.waitUntilStopped()
        if let gcp = wiring.gcp { log(gcp.insertAllReport()) }
        log("stopped")
        return 0
    }

    /// Runs the pipeline on local files without HTTP; prints the upload result JSON.
    /// Returns 0 when every file was processed, 1 otherwise.
    public static func ingest(config: PortalConfig, files: [String], region: String?) throws -> Int32 {
        let wiring = try makeWiring(config: config)
        let processor = wiring.processor
        var outcomes: [UploadOutcome] = []
        for path in files {
            let outcome: UploadOutcome
            do {
                outcome = processor.process(try spool(localFile: path, into: processor.spoolDirectory), explicitRegion: region)
            } catch {
                var refused = UploadOutcome(fileName: path)
                refused.errorCode = (error as? PortalError)?.code ?? "unreadable_file"
                refused.errorMessage = "\(error)"
                outcome = refused
            }
            outcomes.append(outcome)
            let rows = outcome.record?.rows ?? RowCounts()
            log("\(path): \(outcome.record?.status.rawValue ?? "rejected"), \(rows.loaded) loaded, \(rows.rejected) rejected, \(rows.duplicates) duplicates")
        }
        Output.bytes(UploadJSON.results(outcomes) + [UInt8(ascii: "\n")])
        if let gcp = wiring.gcp { log(gcp.insertAllReport()) }
        return outcomes.allSatisfy(\.succeeded) ? 0 : 1
    }

    /// The routes of the configuration behind their gate, and the gate.
    static func makeRoutes(config: PortalConfig, processor: UploadProcessor,
                           readiness: Readiness? = nil) throws -> (SecuredRouter, Gatekeeper) {
        let gate = try Gatekeeper.make(config: config, log: log)
        let publicDir = locatePublicDirectory(config.server.publicDir)
        var staticFiles: StaticFiles?
        var pages: Pages?
        if let publicDir {
            staticFiles = try StaticFiles(root: publicDir, gzipMinimumBytes: 860)
            pages = try Pages(publicDir: publicDir, regions: config.regions, mode: gate.mode)
        } else {
            log("no Public folder found: the pages at /, /dashboard and /login are not served")
        }
        let audit = AuditLog(warehouse: processor.warehouse, log: { log($0) })
        let events = try ObjectEventIntake.make(config: config, processor: processor, audit: audit, log: { log($0) })
        let routes = Routes.make(processor: processor, staticFiles: staticFiles, pages: pages, gate: gate, config: config,
                                 audit: audit, events: events, readiness: readiness ?? Readiness(processor: processor),
                                 log: { log($0) })
        return (routes, gate)
    }

    /// Every route with who may call it, as JSON: `[{"method", "pattern", "access", "kind", "regions"}]`.
    public static func routeTable(config: PortalConfig) throws -> [UInt8] {
        // The routes do not depend on the deployment: list them over a throw-away embedded one.
        var config = config
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sales-portal-routes-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        config.storage = StorageSettings(mode: "embedded", dataDir: scratch)
        if config.auth.mode == "iap" { config.auth.mode = "local" }
        config.gcsEvents.enabled = false
        let processor = try makeProcessor(config: config)
        let (routes, _) = try makeRoutes(config: config, processor: processor)
        var json = JSONWriter()
        json.beginArray()
        for route in routes.declarations {
            json.beginObject()
            json.field("method", route.method)
            json.field("pattern", route.pattern)
            json.field("access", route.access.rawValue)
            json.field("kind", route.kind.rawValue)
            json.field("regions", route.regions.rawValue)
            json.endObject()
        }
        json.endArray()
        return json.bytes + [10]
    }

    // MARK: - Wiring

    /// The pipeline of the configured deployment, and the Google Cloud clients in gcp mode.
    struct Wiring {
        var processor: UploadProcessor
        var gcp: GCPDeployment?
    }

    /// Initializes the C libraries the process uses (libcurl). Call once, first thing in main,
    /// before any thread starts.
    public static func initializeLibraries() {
        GoogleCloud.globalInit()
        // glibc gives every thread that allocates an arena of its own and keeps what each held:
        // with upload, query and insertAll threads that grows memory that is never given back.
        // Two arenas serve two cores.
        cn_malloc_limit_arenas(2)
    }

    static func makeProcessor(config: PortalConfig) throws -> UploadProcessor {
        try makeWiring(config: config).processor
    }

    /// embedded: a local folder and SQLite under the data folder. gcp: Cloud Storage and
    /// BigQuery. Both spool files in flight under the data folder.
    static func makeWiring(config: PortalConfig) throws -> Wiring {
        let dataDir = FileSystem.absolute(config.storage.dataDir)
        try FileSystem.makeDirectories(dataDir)
        let spoolDirectory = dataDir + "/spool"
        try FileSystem.makeDirectories(spoolDirectory)
        FileSystem.removeAbandonedTemporaryFiles(in: spoolDirectory)
        if config.isGCP {
            let gcp = try GCPDeployment.make(config.gcp, reportQueryMilliseconds: config.server.queryTimeoutMs, log: log)
            let processor = UploadProcessor(config: config, store: gcp.store, warehouse: gcp.warehouse,
                                            spoolDirectory: spoolDirectory)
            return Wiring(processor: processor, gcp: gcp)
        }
        let store = try LocalObjectStore(root: dataDir + "/objects")
        var options = SQLiteOptions()
        options.queryTimeoutMilliseconds = config.server.queryTimeoutMs
        let warehouse = try SQLiteWarehouse(path: dataDir + "/warehouse.sqlite", options: options)
        try warehouse.prepare()
        return Wiring(processor: UploadProcessor(config: config, store: store, warehouse: warehouse,
                                                 spoolDirectory: spoolDirectory), gcp: nil)
    }

    static func serverConfiguration(_ config: PortalConfig) -> HTTPServerConfiguration {
        var server = HTTPServerConfiguration()
        server.host = config.server.host
        server.port = config.server.port
        server.eventLoopThreads = config.server.eventLoopThreads
        server.workerThreads = config.server.workerThreads
        server.streamingWorkerThreads = config.server.uploadThreads
        // Bodies are parsed and spooled as they arrive: about a core's worth of work each loop can feed.
        server.receiveWorkerThreads = config.server.eventLoopThreads
        server.computeWorkerThreads = config.server.computeThreads > 0
            ? config.server.computeThreads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        server.accessLog = config.server.accessLog
        server.maxQueuedRequests = config.server.limits.maxQueuedRequests
        server.commonHeaders = Gatekeeper.securityHeaders(hsts: config.server.hsts)
        let limits = config.server.limits
        server.limits.maxRequestLineBytes = limits.maxRequestLineBytes
        server.limits.maxHeaderBytes = limits.maxHeaderBytes
        server.limits.maxHeaderCount = limits.maxHeaderCount
        server.limits.maxBufferedBodyBytes = limits.maxBufferedBodyBytes
        server.limits.maxStreamingBodyBytes = limits.maxUploadBytes
        server.limits.maxConnectionsPerClient = limits.maxConnectionsPerClient
        server.limits.maxUploadsPerClient = limits.maxUploadsPerClient
        // Checked by `PortalConfig.validate`.
        server.trustedProxies = (try? TrustedProxies(parsing: config.server.trustedProxies)) ?? TrustedProxies()
        let timeouts = config.server.timeouts
        server.timeouts.requestHeadMilliseconds = timeouts.requestHeadMs
        server.timeouts.bodyInactivityMilliseconds = timeouts.bodyInactivityMs
        server.timeouts.idleKeepAliveMilliseconds = timeouts.idleKeepAliveMs
        server.timeouts.writeMilliseconds = timeouts.writeMs
        server.timeouts.minBodyBytesPerSecond = timeouts.minBodyBytesPerSecond
        server.timeouts.bodyRateWindowMilliseconds = timeouts.bodyRateWindowMs
        server.timeouts.bodyDeadlineMilliseconds = timeouts.bodyDeadlineMs
        return server
    }

    /// The configured folder, else `Public` in the working directory, else beside the executable's package.
    static func locatePublicDirectory(_ configured: String) -> String? {
        if !configured.isEmpty { return FileSystem.absolute(configured) }
        var candidates = [FileSystem.absolute("Public")]
        let executable = FileSystem.absolute(CommandLine.arguments.first ?? "")
        var folder = executable
        for _ in 0..<4 {
            guard let slash = folder.lastIndex(of: "/") else { break }
            folder = String(folder[..<slash])
            candidates.append(folder + "/Public")
        }
        return candidates.first { FileSystem.exists($0 + "/index.html") }
    }

    /// Copies a local file into the spool, computing its fingerprint on the way.
    private static func spool(localFile path: String, into directory: String) throws -> ReceivedFile {
        // The spool file is deleted when it is dropped unfinished (a read that failed).
        let spool = try SpoolFile(directory: directory)
        try FileSystem.readChunks(
            of: path, failure: { .badRequest(code: "unreadable_file", message: "cannot read \(path): \($0)") }
        ) { try spool.write($0) }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return ReceivedFile(fileName: name, content: spool.finish())
    }

    static func log(_ message: String) { ServerLog.line(message) }
}

/// Writes to standard output and error without buffering surprises between threads.
public enum Output {
    public static func line(_ text: String) { bytes(Array((text + "\n").utf8)) }
    public static func errorLine(_ text: String) { write(fd: 2, Array((text + "\n").utf8)) }

    /// Why the server cannot start or stopped with an error, in the server's log format (an entry
    /// of severity ERROR in JSON mode), so that a platform reading JSON lines sees it as one.
    public static func serverError(_ text: String) { ServerLog.line(text, severity: .error) }

    /// Takes the log format from `SALES_PORTAL_LOG_FORMAT` before the configuration is read, so
    /// that an error in reading it is logged in that format too (the configuration decides after).
    public static func useLogFormat(from environment: [String: String]) {
        if let format = environment["SALES_PORTAL_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:)) { ServerLog.format = format }
    }
    public static func bytes(_ bytes: [UInt8]) { write(fd: 1, bytes) }

    private static func write(fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { if errno == EINTR { continue }; return }
                offset += written
            }
        }
    }
}
