import ETL
import Testing
import Warehouse

func record(
    _ id: String, region: String = "UK", sha256: String = "aa", status: UploadStatus, createdAt: Int64
) -> UploadRecord {
    UploadRecord(
        id: id, region: region, fileName: "\(region).csv", objectURI: "file:///var/objects/\(id).csv", sha256: sha256,
        sizeBytes: 1234, encoding: "utf-8", status: status, currency: "GBP",
        createdAtMicros: createdAt, updatedAtMicros: createdAt)
}

@Suite struct SQLiteUploadRecordTests {
    @Test func everyFieldSurvivesARoundTrip() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        var full = UploadRecord(
            id: "up-1", region: "IN", fileName: "IN \"final\".csv", objectURI: "gs://bucket/raw/up-1.csv",
            sha256: String(repeating: "ab", count: 32), sizeBytes: 98_765, encoding: "windows-1252", status: .loaded,
            rows: RowCounts(read: 10, loaded: 6, rejected: 3, duplicates: 1),
            revenue: ExactDecimal(micros: -12_345_678), currency: "INR",
            firstRejects: [
                RejectedRow(line: 4, reason: "bad_date", message: "\"13/45/2010\" is not a date\nline two\t\\ \u{1}"),
                RejectedRow(line: 9, reason: "bad_number", message: "£ price ünïcode"),
            ],
            rejectsURI: "gs://bucket/raw/up-1.rejects.csv", extraColumns: ["Notes", "Ref \"x\""],
            errorCode: "some_code", errorMessage: "some message", bytesProcessed: 98_765,
            createdAtMicros: 1_700_000_000_000_001, updatedAtMicros: 1_700_000_000_000_002,
            user: "ana", clientAddress: "203.0.113.9", retractedBy: "boss", retractedAtMicros: 1_700_000_000_000_003,
            rawFileRemovedAtMicros: 1_700_000_000_000_004)
        full.requestID = "nightly-IN-7"
        try warehouse.saveUpload(full)
        #expect(try warehouse.upload(id: "up-1") == full)
        #expect(try warehouse.upload(id: "missing") == nil)
        // Saving again replaces the record.
        var changed = full
        changed.status = .failed
        changed.firstRejects = []
        changed.extraColumns = []
        changed.rejectsURI = nil
        changed.errorCode = nil
        changed.requestID = nil
        try warehouse.saveUpload(changed)
        #expect(try warehouse.upload(id: "up-1") == changed)
        #expect(try warehouse.recentUploads(limit: 10).count == 1)
    }

    @Test func recentUploadsAreNewestFirstAndLimited() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        try warehouse.saveUpload(record("old", status: .loaded, createdAt: 100))
        try warehouse.saveUpload(record("new", status: .failed, createdAt: 300))
        try warehouse.saveUpload(record("mid", status: .loading, createdAt: 200))
        #expect(try warehouse.recentUploads(limit: 10).map(\.id) == ["new", "mid", "old"])
        #expect(try warehouse.recentUploads(limit: 2).map(\.id) == ["new", "mid"])
        #expect(try warehouse.recentUploads(limit: 0).isEmpty)
    }

    @Test func loadedUploadFindsOnlyLoadedContentOfTheRegion() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        try warehouse.saveUpload(record("failed", region: "UK", sha256: "s1", status: .failed, createdAt: 1))
        #expect(try warehouse.loadedUpload(region: "UK", sha256: "s1") == nil)
        try warehouse.saveUpload(record("loaded", region: "UK", sha256: "s1", status: .loaded, createdAt: 2))
        try warehouse.saveUpload(record("other-region", region: "IN", sha256: "s2", status: .loaded, createdAt: 3))
        #expect(try warehouse.loadedUpload(region: "UK", sha256: "s1")?.id == "loaded")
        #expect(try warehouse.loadedUpload(region: "IN", sha256: "s1") == nil)
        #expect(try warehouse.loadedUpload(region: "UK", sha256: "s2") == nil)
    }

    @Test func unfinishedUploadsAreStoredLoadingFailedOrRetracting() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        for (index, status) in UploadStatus.allCases.enumerated() {
            try warehouse.saveUpload(record("u-\(status.rawValue)", status: status, createdAt: Int64(index)))
        }
        #expect(Set(try warehouse.unfinishedUploads().map(\.id)) == ["u-stored", "u-loading", "u-failed", "u-retracting"])
    }

    @Test func insertingRowsKeepsTheSavedRecord() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let saved = record("r1", status: .loading, createdAt: 5)
        try warehouse.saveUpload(saved)
        _ = try warehouse.insert(ukRows, for: context("r1"))
        #expect(try warehouse.upload(id: "r1") == saved)
        // The view shows the rows of finished loads only.
        #expect(database.query("SELECT DISTINCT upload_id, source_uri FROM orders") == [])
        var finished = saved
        finished.status = .loaded
        try warehouse.saveUpload(finished)
        #expect(database.query("SELECT DISTINCT upload_id, source_uri FROM orders") == [["r1", "file:///var/objects/r1.csv"]])
    }
}
