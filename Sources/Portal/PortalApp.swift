import ETL
import Foundation
import GoogleCloud
import HTTPServer
import Warehouse

/// Wires the configuration to a store, a warehouse and the HTTP server, and runs them.
public enum PortalApp {
    /// Serves until SIGTERM or SIGINT; returns the exit status (0 after a clean stop).
    public static func serve(config: PortalConfig) throws -> Int32 {
        HTTPServer.ignoreSIGPIPE()
        // Block the stop signals before any thread starts, so every thread inherits the mask
        // and this thread alone receives them through sigwait.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        let wiring = try makeWiring(config: config)
        let processor = wiring.processor
        let publicDir = locatePublicDirectory(config.server.publicDir)
        let staticFiles: StaticFiles?
        if let publicDir {
            staticFiles = try StaticFiles(root: publicDir, gzipMinimumBytes: 860)
        } else {
            staticFiles = nil
            log("no Public folder found: the page at / is not served")
        }
        // Listed before the server starts, so that no upload of this run is taken for one to resume.
        let unfinished = processor.unfinishedUploads(log: log)
        let router = Routes.make(processor: processor, staticFiles: staticFiles, config: config)
        let server = HTTPServer(configuration: serverConfiguration(config), router: router)
        let port = try server.start()
        Output.line("listening on http://\(config.server.host):\(port)")

        if !unfinished.isEmpty {
            let resumer = Thread { processor.resume(unfinished, log: log) }
            resumer.start()
        }

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
            let gcp = try GCPDeployment.make(config.gcp, log: log)
            let processor = UploadProcessor(config: config, store: gcp.store, warehouse: gcp.warehouse,
                                            spoolDirectory: spoolDirectory)
            return Wiring(processor: processor, gcp: gcp)
        }
        let store = try LocalObjectStore(root: dataDir + "/objects")
        let warehouse = try SQLiteWarehouse(path: dataDir + "/warehouse.sqlite")
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
        server.accessLog = config.server.accessLog
        let limits = config.server.limits
        server.limits.maxRequestLineBytes = limits.maxRequestLineBytes
        server.limits.maxHeaderBytes = limits.maxHeaderBytes
        server.limits.maxHeaderCount = limits.maxHeaderCount
        server.limits.maxBufferedBodyBytes = limits.maxBufferedBodyBytes
        server.limits.maxStreamingBodyBytes = limits.maxUploadBytes
        let timeouts = config.server.timeouts
        server.timeouts.requestHeadMilliseconds = timeouts.requestHeadMs
        server.timeouts.bodyInactivityMilliseconds = timeouts.bodyInactivityMs
        server.timeouts.idleKeepAliveMilliseconds = timeouts.idleKeepAliveMs
        server.timeouts.writeMilliseconds = timeouts.writeMs
        return server
    }

    /// The configured folder, else `Public` in the working directory, else beside the executable's package.
    static func locatePublicDirectory(_ configured: String) -> String? {
        if !configured.isEmpty { return FileSystem.absolute(configured) }
        var candidates = [FileSystem.absolute("Public")]
        let executable = FileSystem.absolute(CommandLine.arguments[0])
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

    static func log(_ message: String) { Output.errorLine(message) }
}

/// Writes to standard output and error without buffering surprises between threads.
public enum Output {
    public static func line(_ text: String) { bytes(Array((text + "\n").utf8)) }
    public static func errorLine(_ text: String) { write(fd: 2, Array((text + "\n").utf8)) }
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
