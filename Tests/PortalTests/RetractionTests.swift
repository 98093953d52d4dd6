import ETL
import Foundation
import Support
import Synchronization
import Testing
import Warehouse

@testable import Portal

/// Taking uploads back, in process, on a real local store and a real SQLite warehouse.
@Suite struct RetractionTests {
    let root: String
    let processor: UploadProcessor

    init() throws {
        root = try temporaryDirectory()
        var config = PortalConfig()
        config.storage.dataDir = root
        processor = try PortalApp.makeProcessor(config: config)
    }

    func upload(_ text: String, name: String, region: String? = nil, user: String = "ana") throws -> UploadRecord {
        let spool = try SpoolFile(directory: processor.spoolDirectory)
        try Array(text.utf8).withUnsafeBytes { try spool.write($0) }
        let outcome = processor.process(ReceivedFile(fileName: name, content: spool.finish()), explicitRegion: region, uploader: user,
                                        address: "10.0.0.7")
        return try #require(outcome.record)
    }

    var warehouse: any ReportingWarehouse { processor.warehouse as! any ReportingWarehouse }

    static let header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

    /// `count` lines of invoice `invoice`, each a different product at 1.00.
    static func lines(invoice: Int, products: Range<Int>, day: Int = 1) -> String {
        products.map { "\(invoice),P\($0),Thing \($0),1,3/\(day)/2011 10:00,1.00,1\(invoice),United Kingdom\n" }.joined()
    }

    @Test func aRetractedUploadLeavesEveryTotalAndLoadsAgainWhenSentAgain() throws {
        let keep = try upload(Self.header + Self.lines(invoice: 1, products: 0..<10), name: "UK-march.csv")
        let wrong = try upload(Self.header + Self.lines(invoice: 2, products: 0..<25), name: "UK-test.csv")
        #expect(keep.user == "ana" && keep.clientAddress == "10.0.0.7")
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 35_000_000))

        let retracted = try processor.retract(wrong, by: "boss")
        #expect(retracted.status == .retracted)
        #expect(retracted.retractedBy == "boss" && retracted.retractedAtMicros != nil)
        #expect(try processor.warehouse.upload(id: wrong.id)?.status == .retracted)
        let after = try warehouse.summary(ReportFilter())
        #expect(after.revenue == ExactDecimal(micros: 10_000_000))
        #expect(after.orders == 1)
        #expect(try warehouse.invoiceLines(region: "UK", invoiceNo: "2").isEmpty)
        // Retracting again changes nothing.
        #expect(try processor.retract(retracted, by: "boss").status == .retracted)

        // The same bytes again are loaded again, not "already loaded".
        let again = try upload(Self.header + Self.lines(invoice: 2, products: 0..<25), name: "UK-test.csv")
        #expect(again.status == .loaded)
        #expect(again.rows.loaded == 25)
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 35_000_000))
    }

    @Test func rowsAnotherUploadSkippedAsDuplicatesComeBackThroughIt() throws {
        // `later` repeats 5 of `first`'s lines: they are stored once, as `first`'s.
        let first = try upload(Self.header + Self.lines(invoice: 3, products: 0..<10), name: "UK-a.csv")
        let later = try upload(Self.header + Self.lines(invoice: 3, products: 5..<10) + Self.lines(invoice: 4, products: 0..<3),
                               name: "UK-b.csv")
        #expect(later.rows.duplicates == 5 && later.rows.loaded == 3)
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 13_000_000))

        _ = try processor.retract(first, by: "ana")
        // What is left is exactly `later`'s file: its 5 shared lines and its 3 own.
        let left = try warehouse.summary(ReportFilter())
        #expect(left.revenue == ExactDecimal(micros: 8_000_000))
        #expect(left.orders == 2)
        #expect(try warehouse.invoiceLines(region: "UK", invoiceNo: "3").count == 5)
    }

    @Test func rowsTheRetractedUploadSkippedStayCountedOnce() throws {
        let live = try upload(Self.header + Self.lines(invoice: 5, products: 0..<6), name: "UK-live.csv")
        let wrong = try upload(Self.header + Self.lines(invoice: 5, products: 0..<6) + Self.lines(invoice: 6, products: 0..<2),
                               name: "UK-wrong.csv")
        #expect(wrong.rows.duplicates == 6)
        _ = try processor.retract(wrong, by: "ana")
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 6_000_000))
        #expect(try processor.warehouse.upload(id: live.id)?.status == .loaded)
    }

    @Test func theStartIsToldOnceAndTheRegionLeavesTheFilterOptions() throws {
        _ = try upload(Self.header.replacingOccurrences(of: "United Kingdom", with: "India")
                       + Self.lines(invoice: 11, products: 0..<3).replacingOccurrences(of: "United Kingdom", with: "India"), name: "IN.csv")
        let wrong = try upload(Self.header + Self.lines(invoice: 12, products: 0..<3), name: "UK.csv")
        #expect(try warehouse.reportOptions().regions == ["IN", "UK"])
        var starts = 0
        _ = try processor.retract(wrong, by: "ana") { starts += 1 }
        _ = try processor.retract(wrong, by: "ana") { starts += 1 }
        #expect(starts == 1, "a second request finds it retracted")
        #expect(try warehouse.reportOptions().regions == ["IN"])
        #expect(try warehouse.reportOptions(regions: ["IN", "UK"]).regions == ["IN"])
    }

    @Test func theSameBytesAgainWhileACopyStillCountsAreAlreadyLoaded() throws {
        let text = Self.header + Self.lines(invoice: 13, products: 0..<4)
        let first = try upload(text, name: "UK.csv")
        let copy = try upload(text, name: "UK-again.csv")
        #expect(copy.status == .alreadyLoaded)
        _ = try processor.retract(first, by: "ana")
        // The rows stay through the copy, and the same bytes once more load nothing new.
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 4_000_000))
        #expect(try upload(text, name: "UK-third.csv").status == .alreadyLoaded)
        #expect(try warehouse.reportOptions().regions == ["UK"])
    }

    @Test func anUploadStillLoadingIsNotRetracted() throws {
        var loading = try upload(Self.header + Self.lines(invoice: 7, products: 0..<2), name: "UK.csv")
        loading.status = .loading
        try processor.warehouse.saveUpload(loading)
        #expect(throws: UploadProcessor.RetractionRefusal.stillLoading(.loading)) { try processor.retract(loading, by: "ana") }
    }

    @Test func aRetractionCutShortIsFinishedOnTheNextStart() throws {
        let wrong = try upload(Self.header + Self.lines(invoice: 8, products: 0..<4), name: "UK.csv")
        // As a crash would leave it: marked, rows still there.
        var marked = wrong
        marked.status = .retracting
        marked.retractedBy = "ana"
        marked.retractedAtMicros = 1
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 4_000_000))
        try processor.warehouse.saveUpload(marked)
        // Marked: out of every report at once, though its rows are still stored.
        #expect(try warehouse.summary(ReportFilter()).revenue == .zero)
        #expect(try warehouse.reportDataVersion()?.hasPrefix("0-") == false)
        let unfinished = processor.unfinishedUploads(log: { _ in })
        #expect(unfinished.map(\.id) == [wrong.id])
        processor.resume(unfinished, log: { _ in })
        #expect(try processor.warehouse.upload(id: wrong.id)?.status == .retracted)
        #expect(try warehouse.summary(ReportFilter()).revenue == .zero)
    }

    @Test func aFailedUploadRetractedBeforeItsResumeStaysRetracted() throws {
        var failed = try upload(Self.header + Self.lines(invoice: 9, products: 0..<4), name: "UK.csv")
        failed.status = .failed
        try processor.warehouse.saveUpload(failed)
        // The start lists it; an admin retracts it while the resume has not reached it yet.
        let unfinished = processor.unfinishedUploads(log: { _ in })
        #expect(unfinished.map(\.id) == [failed.id])
        #expect(try processor.retract(failed, by: "boss").status == .retracted)
        var lines: [String] = []
        processor.resume(unfinished, log: { lines.append($0) })
        let after = try #require(try processor.warehouse.upload(id: failed.id))
        #expect(after.status == .retracted && after.retractedBy == "boss")
        #expect(try warehouse.summary(ReportFilter()).revenue == .zero)
        #expect(lines.contains { $0.contains("not resumed") })
    }

    @Test func aRetractionWaitsForTheRegionsLoadsAndLaterLoadsWaitForIt() throws {
        let gate = RegionGate()
        let events = Mutex<[String]>([])
        let loadHolding = DispatchSemaphore(value: 0), releaseLoad = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        Thread.detachNewThread {
            gate.load("UK") {
                events.withLock { $0.append("load 1") }
                loadHolding.signal()
                releaseLoad.wait()
                events.withLock { $0.append("load 1 ends") }
            }
        }
        loadHolding.wait()
        done.enter()
        Thread.detachNewThread {
            gate.retract("UK") { events.withLock { $0.append("retraction") } }
            done.leave()
        }
        Thread.sleep(forTimeInterval: 0.1)
        done.enter()
        Thread.detachNewThread {
            gate.load("UK") { events.withLock { $0.append("load 2") } }
            done.leave()
        }
        // Another region is not held up.
        gate.load("IN") { events.withLock { $0.append("IN load") } }
        Thread.sleep(forTimeInterval: 0.1)
        #expect(events.withLock { $0 } == ["load 1", "IN load"], "the retraction waits for load 1, load 2 waits behind it")
        releaseLoad.signal()
        done.wait()
        #expect(events.withLock { $0 } == ["load 1", "IN load", "load 1 ends", "retraction", "load 2"])
    }

    @Test func theAuditTrailListsNewestFirstAndFilters() throws {
        let warehouse = processor.warehouse
        for (index, kind) in ["sign_in", "upload", "retraction", "upload"].enumerated() {
            try warehouse.recordAudit(AuditEvent(atMicros: Int64(100 + index), actor: index == 3 ? "bo" : "ana", kind: kind,
                                                 subject: "s\(index)", address: "1.2.3.4", detail: "d\(index)"))
        }
        #expect(try warehouse.auditEvents(AuditQuery()).map(\.subject) == ["s3", "s2", "s1", "s0"])
        #expect(try warehouse.auditEvents(AuditQuery(kind: "upload")).map(\.subject) == ["s3", "s1"])
        #expect(try warehouse.auditEvents(AuditQuery(actor: "ana", kind: "upload")).map(\.subject) == ["s1"])
        #expect(try warehouse.auditEvents(AuditQuery(beforeMicros: 102, limit: 1)).map(\.subject) == ["s1"])
    }

    @Test func rawFilesOfRejectedUploadsGoAfterTheRetentionAndTheirRecordsSaySo() throws {
        let junk = try upload("just some text, not a sales file\n", name: "UK.csv")
        let good = try upload(Self.header + Self.lines(invoice: 9, products: 0..<2), name: "UK.csv")
        #expect(junk.status == .rejected)
        let path = String(junk.objectURI.dropFirst("file://".count))
        #expect(FileManager.default.fileExists(atPath: path))
        // Younger than the retention: kept.
        #expect(processor.sweepRejectedFiles(createdBefore: junk.createdAtMicros, log: { _ in }) == 0)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(processor.sweepRejectedFiles(createdBefore: Clock.nowMicros() + 1, log: { _ in }) == 1)
        #expect(!FileManager.default.fileExists(atPath: path))
        let record = try #require(try processor.warehouse.upload(id: junk.id))
        #expect(record.status == .rejected && record.rawFileRemovedAtMicros != nil)
        // Loaded files are never swept, and a second sweep has nothing to do.
        #expect(FileManager.default.fileExists(atPath: String(good.objectURI.dropFirst("file://".count))))
        #expect(processor.sweepRejectedFiles(createdBefore: Clock.nowMicros() + 1, log: { _ in }) == 0)
    }

    @Test func theSameBytesSentWhileTheirFirstUploadLoadsStoreNothingTwice() throws {
        let text = Self.header + Self.lines(invoice: 21, products: 0..<5)
        let first = try upload(text, name: "UK.csv")
        // As a restart leaves it while it resumes the load.
        var resuming = first
        resuming.status = .loading
        try processor.warehouse.saveUpload(resuming)
        let spool = try SpoolFile(directory: processor.spoolDirectory)
        try Array(text.utf8).withUnsafeBytes { try spool.write($0) }
        let outcome = processor.process(ReceivedFile(fileName: "UK-again.csv", content: spool.finish()), explicitRegion: nil)
        #expect(outcome.inProgressElsewhere && outcome.succeeded)
        #expect(outcome.record?.id == first.id)
        #expect(try processor.warehouse.recentUploads(limit: 10).map(\.id) == [first.id], "no second record")
        #expect(try FileManager.default.contentsOfDirectory(atPath: processor.spoolDirectory).isEmpty, "the resend's spool is dropped")
        // Once that load is over, the same bytes are already loaded as usual.
        try processor.warehouse.saveUpload(first)
        let later = try upload(text, name: "UK-later.csv")
        #expect(later.status == .alreadyLoaded)
    }
}
