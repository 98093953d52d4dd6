import ETL
import GoogleCloud
import Warehouse

/// The Google Cloud deployment built from `gcp` settings: one libcurl client shared by a
/// Cloud Storage client (the raw files, through `GCSObjectStore`) and a BigQuery client
/// (the rows and the upload records, through `BigQueryWarehouse`).
///
/// Credentials: a service whose endpoint is an emulator is called anonymously; Google's
/// endpoints use `gcp.credentialsFile` when set, else Application Default Credentials.
/// The bucket is created when missing only on an emulator; on Google Cloud a missing bucket
/// stops the start with a message that says how to create it. The BigQuery dataset, table,
/// view and upload-events table are created when missing.
struct GCPDeployment {
    let store: GCSObjectStore
    let warehouse: BigQueryWarehouse
    let storageEndpoint: String
    let bigqueryEndpoint: String

    /// Builds the clients and prepares the bucket and the dataset. Blocks (network calls).
    /// `reportQueryMilliseconds`: the time budget of a report question (0: none of our own).
    static func make(_ settings: GCPSettings, reportQueryMilliseconds: Int = 0, log: (String) -> Void) throws -> GCPDeployment {
        let http = CurlHTTPClient()
        let storageEndpoint = endpoint(settings.storageEndpoint, default: StorageClient.defaultEndpoint)
        let bigqueryEndpoint = endpoint(settings.bigqueryEndpoint, default: BigQueryClient.defaultEndpoint)
        let storageIsEmulator = isEmulator(storageEndpoint)
        let bigqueryIsEmulator = isEmulator(bigqueryEndpoint)

        // One token provider for both services when either needs real credentials (tokens are fetched lazily).
        var googleCredentials: (any TokenProvider)?
        func credentials(emulator: Bool) throws -> any TokenProvider {
            if emulator { return AnonymousCredentials() }
            if let googleCredentials { return googleCredentials }
            let found = settings.credentialsFile.isEmpty
                ? try ApplicationDefaultCredentials.find(http: http)
                : try ApplicationDefaultCredentials.fromFile(path: settings.credentialsFile, http: http)
            googleCredentials = found
            return found
        }

        // Clients with a retry policy: the full one for serving, a short one for the checks at start,
        // so that a wrong endpoint or a missing bucket stops the start in seconds, not minutes.
        func storageClient(_ policy: RetryPolicy) throws -> StorageClient {
            var storageSettings = CloudStorageSettings()
            storageSettings.chunkSize = settings.uploadChunkBytes
            storageSettings.retryPolicy = policy
            return try StorageClient(
                endpoint: storageEndpoint, project: settings.project, credentials: credentials(emulator: storageIsEmulator),
                httpClient: http, extraHeaders: headers(settings.storageHeaders), settings: storageSettings)
        }
        func bigqueryClient(_ policy: RetryPolicy) throws -> BigQueryClient {
            var bigquerySettings = BigQuerySettings()
            bigquerySettings.location = settings.location.isEmpty ? nil : settings.location
            bigquerySettings.retryPolicy = policy
            return try BigQueryClient(
                endpoint: bigqueryEndpoint, project: settings.project, credentials: credentials(emulator: bigqueryIsEmulator),
                httpClient: http, extraHeaders: headers(settings.bigqueryHeaders), settings: bigquerySettings)
        }
        let startupPolicy = RetryPolicy(initialBackoff: settings.retryPolicy.initialBackoff, maxBackoff: 4, deadline: 15)
        let storage = try storageClient(settings.retryPolicy)
        let bigquery = try bigqueryClient(settings.retryPolicy)

        try prepareBucket(try storageClient(startupPolicy), settings, emulator: storageIsEmulator, log: log)
        var warehouseSettings = BigQueryWarehouseSettings()
        warehouseSettings.dataset = settings.dataset
        warehouseSettings.ordersTable = settings.table
        warehouseSettings.rowsPerInsert = settings.insertBatchRows
        warehouseSettings.concurrentInserts = settings.concurrentInserts
        warehouseSettings.reportQueryMilliseconds = reportQueryMilliseconds
        let warehouse = BigQueryWarehouse(client: bigquery, settings: warehouseSettings)
        do { try BigQueryWarehouse(client: try bigqueryClient(startupPolicy), settings: warehouseSettings).prepare() } catch {
            throw PortalError.configuration(
                "cannot prepare BigQuery dataset \(settings.project).\(settings.dataset) at \(bigqueryEndpoint): \(error)")
        }
        log("gcp mode: objects in gs://\(settings.bucket) (\(storageEndpoint)), rows in \(settings.project).\(settings.dataset).\(settings.table) (\(bigqueryEndpoint))")
        return GCPDeployment(store: GCSObjectStore(client: storage, bucket: settings.bucket), warehouse: warehouse,
                             storageEndpoint: storageEndpoint, bigqueryEndpoint: bigqueryEndpoint)
    }

    /// What the insertAll calls of order rows sent so far, as a log line.
    func insertAllReport() -> String {
        let table = "\(warehouse.settings.dataset).\(warehouse.settings.ordersTable)"
        let totals = warehouse.client.insertAllCounters.snapshot(table: table)
        guard totals.rows > 0 else { return "insertAll into \(table): nothing sent" }
        let json = Double(totals.jsonBytes) / Double(totals.rows)
        let sent = Double(totals.sentBytes) / Double(totals.rows)
        return "insertAll into \(table): \(totals.requests) requests, \(totals.rows) rows, \(totals.jsonBytes) bytes of JSON "
            + "(\(format(json)) per row), \(totals.sentBytes) bytes sent (\(format(sent)) per row after gzip)"
    }

    private func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    // MARK: - Steps

    private static func prepareBucket(_ storage: StorageClient, _ settings: GCPSettings, emulator: Bool,
                                      log: (String) -> Void) throws {
        if emulator {
            do {
                if try storage.createBucketIfMissing(settings.bucket) { log("created bucket \(settings.bucket) on the emulator") }
            } catch {
                throw PortalError.configuration("cannot reach or create bucket \(settings.bucket) at \(storage.endpoint): \(error)")
            }
            return
        }
        let exists: Bool
        do { exists = try storage.bucketExists(settings.bucket) } catch {
            throw PortalError.configuration("cannot read bucket gs://\(settings.bucket): \(error)")
        }
        guard exists else {
            throw PortalError.configuration(
                "bucket gs://\(settings.bucket) does not exist; create it first (gcloud storage buckets create gs://\(settings.bucket) --project \(settings.project) --location \(settings.location)) or set gcp.bucket")
        }
    }

    /// The configured endpoint (normalized), or Google's.
    static func endpoint(_ configured: String, default google: String) -> String {
        configured.trimmingSpaces().isEmpty ? google : ServiceEndpoint.normalize(configured.trimmingSpaces())
    }

    /// True for an endpoint that is not one of Google's (`*.googleapis.com`): an emulator.
    static func isEmulator(_ endpoint: String) -> Bool {
        var rest = Substring(endpoint)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        var host = rest.prefix { $0 != "/" && $0 != ":" }.lowercased()
        while host.hasSuffix(".") { host.removeLast() }
        return !(host == "googleapis.com" || host.hasSuffix(".googleapis.com"))
    }

    /// Header maps as name/value pairs, in a stable order.
    static func headers(_ map: [String: String]) -> [(name: String, value: String)] {
        map.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
    }
}
