import Foundation
import Testing

@testable import Portal

@Suite struct GCPConfigTests {
    @Test func emulatorFileSelectsGCPModeAgainstTheLocalEmulators() throws {
        let config = try ConfigLoader.load(file: repositoryRoot + "/Config/emulator.json", environment: [:])
        #expect(config.isGCP)
        #expect(config.gcp.project == "test-project")
        #expect(config.gcp.bucket == "sales-uploads")
        #expect(config.gcp.dataset == "sales")
        #expect(config.gcp.table == "orders")
        #expect(config.gcp.storageEndpoint == "http://127.0.0.1:9023")
        #expect(config.gcp.bigqueryEndpoint == "http://127.0.0.1:9050")
        // Everything else keeps the defaults.
        #expect(config.server == PortalConfig().server)
        #expect(config.gcp.insertBatchRows == 2000)
    }

    @Test func environmentPicksAnotherBucketAndDatasetForTheSameFile() throws {
        let config = try ConfigLoader.load(
            file: repositoryRoot + "/Config/emulator.json",
            environment: ["SALES_PORTAL_BUCKET": "other-bucket", "SALES_PORTAL_DATASET": "other_dataset"])
        #expect(config.gcp.bucket == "other-bucket")
        #expect(config.gcp.dataset == "other_dataset")
    }

    @Test func insertBatchOverBigQueryLimitIsRefused() throws {
        let base = ["storage.mode": "gcp", "gcp.project": "p"]
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(file: nil, environment: [:], overrides: base.merging(["gcp.insertBatchRows": "50001"]) { $1 })
        }
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(file: nil, environment: [:], overrides: base.merging(["gcp.insertBatchRows": "0"]) { $1 })
        }
        let fine = try ConfigLoader.load(file: nil, environment: [:], overrides: base.merging(["gcp.insertBatchRows": "50000"]) { $1 })
        #expect(fine.gcp.insertBatchRows == 50_000)
    }

    @Test func gcpModeWithoutProjectIsRefused() {
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(file: nil, environment: [:], overrides: ["storage.mode": "gcp"])
        }
    }

    @Test func onlyGoogleEndpointsGetRealCredentials() {
        #expect(!GCPDeployment.isEmulator("https://storage.googleapis.com"))
        #expect(!GCPDeployment.isEmulator("https://bigquery.googleapis.com/"))
        #expect(!GCPDeployment.isEmulator("https://storage-example.p.googleapis.com:443"))
        #expect(GCPDeployment.isEmulator("http://127.0.0.1:9023"))
        #expect(GCPDeployment.isEmulator("http://localhost:9050"))
        #expect(GCPDeployment.isEmulator("http://googleapis.com.example.org"))
    }

    @Test func emptyEndpointMeansGooglesAndHostPortGetsAScheme() {
        #expect(GCPDeployment.endpoint("", default: "https://storage.googleapis.com") == "https://storage.googleapis.com")
        #expect(GCPDeployment.endpoint("127.0.0.1:9023", default: "x") == "http://127.0.0.1:9023")
        #expect(GCPDeployment.endpoint("http://127.0.0.1:9050/", default: "x") == "http://127.0.0.1:9050")
    }

    @Test func extraHeadersKeepAStableOrder() {
        let headers = GCPDeployment.headers(["x-goog-user-project": "p", "a-header": "1"])
        #expect(headers.map(\.name) == ["a-header", "x-goog-user-project"])
        #expect(headers.map(\.value) == ["1", "p"])
    }
}
