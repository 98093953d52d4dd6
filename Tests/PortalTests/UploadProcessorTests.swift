import ETL
import Foundation
import Support
import Testing
import Warehouse

@testable import Portal

/// The upload pipeline in process, on a real local store and a real SQLite warehouse.
@Suite struct UploadProcessorTests {
    let root: String
    let processor: UploadProcessor
    let store: LocalObjectStore

    init() throws {
        root = try temporaryDirectory()
        var config = PortalConfig()
        config.storage.dataDir = root
        processor = try PortalApp.makeProcessor(config: config)
        store = try #require(processor.store as? LocalObjectStore)
    }

    func spool(_ bytes: [UInt8], name: String) throws -> ReceivedFile {
        let spool = try SpoolFile(directory: processor.spoolDirectory)
        try bytes.withUnsafeBytes { try spool.write($0) }
        return ReceivedFile(fileName: name, content: spool.finish())
    }

    func seed(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/Tests/ETLTests/Fixtures/" + name)))
    }

    func objectFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: store.root)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: store.root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !path.hasPrefix(".partial") {
                files.append(path)
            }
        }
        return files
    }

    @Test func aSeedFileIsStoredVerbatimThenLoaded() throws {
        let bytes = try seed("usa.csv")
        let outcome = processor.process(try spool(bytes, name: "usa.csv"), explicitRegion: nil)
        let record = try #require(outcome.record)
        #expect(record.status == .loaded)
        #expect(record.region == "USA")
        // usa.csv's figures, worked out by hand (Tests/ETLTests/SeedFileTests.swift).
        #expect(record.rows == RowCounts(read: 291, loaded: 291, rejected: 0, duplicates: 0))
        // The stored raw file is the bytes sent, under the region's folder.
        let path = String(record.objectURI.dropFirst("file://".count))
        #expect(path.contains("/uploads/USA/"))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
        // The record is in the warehouse, and the spool is empty again.
        #expect(try processor.warehouse.upload(id: record.id)?.status == .loaded)
        #expect(try FileManager.default.contentsOfDirectory(atPath: processor.spoolDirectory).isEmpty)
    }

    @Test func theSameContentForTheSameRegionLoadsNothingNew() throws {
        let bytes = try seed("usa.csv")
        let first = try #require(processor.process(try spool(bytes, name: "usa.csv"), explicitRegion: nil).record)
        let before = try processor.warehouse.summary(ReportFilter())
        let second = try #require(processor.process(try spool(bytes, name: "copy of usa.csv"), explicitRegion: "USA").record)
        #expect(second.status == .alreadyLoaded)
        #expect(second.rows.loaded == 0)
        #expect(second.errorMessage?.contains(first.id) == true)
        #expect(try processor.warehouse.summary(ReportFilter()) == before)
        #expect(objectFiles().count == 1)
    }

    @Test func anUnknownRegionStoresNothingAndIsRecordedRejected() throws {
        let outcome = processor.process(try spool(try seed("usa.csv"), name: "sales.csv"), explicitRegion: nil)
        #expect(outcome.errorCode == "unknown_region")
        #expect(outcome.errorMessage?.contains("IN, UK, USA") == true)
        let record = try #require(outcome.record)
        #expect(record.status == .rejected && record.errorCode == "unknown_region" && record.region.isEmpty)
        #expect(record.objectURI.isEmpty)
        let named = processor.process(try spool(try seed("usa.csv"), name: "usa.csv"), explicitRegion: "Mars")
        #expect(named.errorCode == "unknown_region")
        #expect(named.record?.region == "MARS")
        #expect(objectFiles().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: processor.spoolDirectory).isEmpty)
        // Both are in the history, newest first.
        let history = try processor.warehouse.recentUploads(limit: 10, regions: nil)
        #expect(history.map(\.id) == [named.record?.id, record.id].compactMap { $0 })
    }

    @Test func anEmptyFileIsRecordedRejectedForItsRegion() throws {
        let outcome = processor.process(try spool([], name: "UK.csv"), explicitRegion: nil)
        #expect(outcome.errorCode == "empty_file")
        let record = try #require(outcome.record)
        #expect(record.status == .rejected && record.errorCode == "empty_file" && record.region == "UK")
        #expect(record.sizeBytes == 0 && record.objectURI.isEmpty)
        #expect(objectFiles().isEmpty)
    }

    @Test func aFileMissingAColumnIsRejectedWholeAndNamesIt() throws {
        let text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,CustomerID,Country\n536365,85123A,HEART,6,12/1/2010 8:26,17850,United Kingdom\n"
        let outcome = processor.process(try spool(Array(text.utf8), name: "UK.csv"), explicitRegion: nil)
        let record = try #require(outcome.record)
        #expect(record.status == .rejected)
        #expect(record.errorCode == "missing_columns")
        #expect(record.errorMessage?.contains("UnitPrice") == true)
        #expect(try processor.warehouse.summary(ReportFilter()).orders == 0)
    }

    @Test func aLoadCutShortIsResumedFromTheStoredFile() throws {
        // A record left "stored" (acknowledged, not loaded) by a process that stopped.
        let bytes = try seed("usa.csv")
        let now = Clock.nowMicros()
        let id = UploadID.make()
        let writer = try store.create(name: "uploads/USA/x/\(id)/usa.csv", contentType: "text/csv")
        try bytes.withUnsafeBytes { try writer.write($0) }
        let stored = try writer.finish()
        try processor.warehouse.saveUpload(UploadRecord(
            id: id, region: "USA", fileName: "usa.csv", objectURI: stored.uri, sha256: "x", sizeBytes: stored.sizeBytes,
            encoding: "utf-8", status: .stored, currency: "GBP", createdAtMicros: now, updatedAtMicros: now))
        var lines: [String] = []
        processor.resumeUnfinished { lines.append($0) }
        let record = try #require(try processor.warehouse.upload(id: id))
        #expect(record.status == .loaded)
        #expect(record.rows == RowCounts(read: 291, loaded: 291, rejected: 0, duplicates: 0))
        #expect(try processor.warehouse.unfinishedUploads().isEmpty)
        #expect(lines.contains { $0.contains(id) })
        // Resuming again loads nothing twice.
        let summary = try processor.warehouse.summary(ReportFilter())
        _ = processor.load(record)
        #expect(try processor.warehouse.summary(ReportFilter()) == summary)
    }

    @Test func aResumedLoadWithRejectsKeepsItsFirstRejectsFileAndLoads() throws {
        let text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
            + "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
            + "536366,85123B,HEART,six,12/1/2010 8:28,2.55,17850,United Kingdom\n"
        let first = try #require(processor.process(try spool(Array(text.utf8), name: "UK.csv"), explicitRegion: nil).record)
        #expect(first.status == .loaded)
        let rejectsURI = try #require(first.rejectsURI)
        // A second run over the same stored file (as after a stop mid-load) must not trip over the first rejects file.
        let again = processor.load(first, resuming: true)
        #expect(again.status == .loaded)
        #expect(again.rows == first.rows)
        #expect(again.revenue == first.revenue)
        #expect(again.rejectsURI != nil && again.rejectsURI != rejectsURI)
        #expect(FileManager.default.fileExists(atPath: String(rejectsURI.dropFirst("file://".count))))
    }

    @Test func aStorageFailureIsTheServersNotTheFiles() throws {
        // The region's folder is taken by a plain file: the raw file cannot be stored.
        try FileManager.default.createDirectory(atPath: store.root + "/uploads", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: store.root + "/uploads/USA", contents: Data("x".utf8))
        let outcome = processor.process(try spool(try seed("usa.csv"), name: "usa.csv"), explicitRegion: nil)
        #expect(outcome.record == nil)
        #expect(outcome.errorCode == "storage_failed")
        #expect(outcome.failedOnTheServer)
        #expect(try FileManager.default.contentsOfDirectory(atPath: processor.spoolDirectory).isEmpty)
    }

    @Test func filesLeftByAStoppedProcessAreRemovedAndOthersKept() throws {
        let abandoned = processor.spoolDirectory + "/4194000-0123456789abcdef0123.part"
        let ours = processor.spoolDirectory + "/\(getpid())-0123456789abcdef0124.part"
        for path in [abandoned, ours] { FileManager.default.createFile(atPath: path, contents: Data("x".utf8)) }
        var config = PortalConfig()
        config.storage.dataDir = root
        _ = try PortalApp.makeProcessor(config: config)
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(FileManager.default.fileExists(atPath: ours))
    }

    @Test func theLocalStoreNeverOverwritesAnObject() throws {
        let first = try store.create(name: "a/b.csv", contentType: "text/csv")
        try Array("one".utf8).withUnsafeBytes { try first.write($0) }
        _ = try first.finish()
        let second = try store.create(name: "a/b.csv", contentType: "text/csv")
        try Array("two".utf8).withUnsafeBytes { try second.write($0) }
        #expect(throws: (any Error).self) { try second.finish() }
        #expect(try String(contentsOfFile: store.root + "/a/b.csv", encoding: .utf8) == "one")
        #expect(throws: (any Error).self) { try store.create(name: "../escape.csv", contentType: "text/csv") }
        #expect(throws: (any Error).self) { try store.open(uri: "file:///etc/passwd") }
    }
}
