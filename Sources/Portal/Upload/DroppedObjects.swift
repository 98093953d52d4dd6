import Crypto
import ETL
import Foundation
import GoogleCloud
import Support

extension UploadProcessor {
    /// The pipeline of an object dropped into the bucket: region → read once for its SHA-256
    /// and encoding → already loaded? → record (`stored`) → load in place. nil when the object
    /// is gone or replaced by a newer generation (whose own notification loads it).
    func processDropped(_ accepted: ObjectEventIntake.Accepted, uploadID: String, log: (String) -> Void) -> UploadRecord? {
        let event = accepted.event
        let now = Clock.nowMicros()
        let regionName = accepted.regionText
        guard let region = regionName.map({ regions.region(named: $0) }) ?? regions.region(forFileName: accepted.fileName) else {
            let known = config.regions.map(\.code).joined(separator: ", ")
            var record = UploadRecord(
                id: uploadID, region: regionName?.uppercased() ?? "", fileName: accepted.fileName, objectURI: event.uri,
                sha256: "", sizeBytes: event.sizeBytes, encoding: TextEncoding.utf8.rawValue, status: .rejected, currency: "",
                errorCode: "unknown_region",
                errorMessage: regionName.map { "unknown region \"\($0)\" in the object's path; known regions: \(known)" }
                    ?? "cannot tell the region from the file name \"\(accepted.fileName)\"; name the file after a region (\(known))",
                createdAtMicros: now, updatedAtMicros: now, user: accepted.account, clientAddress: accepted.address)
            record.requestID = accepted.requestID
            return save(record, log: log)
        }
        let fingerprint: ObjectFingerprint
        do {
            guard let read = try fingerprintObject(event) else {
                log("\(event.uri) is gone or no longer generation \(event.generation): this notification loads nothing")
                return nil
            }
            fingerprint = read
        } catch {
            var record = UploadRecord(
                id: uploadID, region: region.code, fileName: accepted.fileName, objectURI: event.uri, sha256: "",
                sizeBytes: event.sizeBytes, encoding: TextEncoding.utf8.rawValue, status: .failed, currency: region.currency,
                createdAtMicros: now, updatedAtMicros: now, user: accepted.account, clientAddress: accepted.address)
            record.requestID = accepted.requestID
            record.errorCode = (error as? PortalError)?.code ?? "storage_failed"
            record.errorMessage = "cannot read \(event.uri): \(error)"
            return save(record, log: log)
        }
        do {
            return try regionGate.load(region.code) { () throws -> UploadRecord? in
                if let earlier = try warehouse.loadedUpload(region: region.code, sha256: fingerprint.sha256) {
                    var record = alreadyLoadedRecord(
                        fileName: accepted.fileName, sha256: fingerprint.sha256, size: fingerprint.size, region: region, earlier: earlier)
                    record.id = uploadID
                    record.objectURI = event.uri
                    record.user = accepted.account
                    record.clientAddress = accepted.address
                    record.requestID = accepted.requestID
                    return save(record, log: log)
                }
                var record = UploadRecord(
                    id: uploadID, region: region.code, fileName: accepted.fileName, objectURI: event.uri,
                    sha256: fingerprint.sha256, sizeBytes: fingerprint.size, encoding: fingerprint.encoding.rawValue,
                    status: .stored, currency: region.currency, createdAtMicros: now, updatedAtMicros: now,
                    user: accepted.account, clientAddress: accepted.address)
                record.requestID = accepted.requestID
                try warehouse.saveUpload(record)
                return load(record)
            }
        } catch {
            log("\(event.uri): the warehouse failed (\(error)); the notification is dropped: load the object again by hand")
            return nil
        }
    }

    private func save(_ record: UploadRecord, log: (String) -> Void) -> UploadRecord? {
        do {
            try warehouse.saveUpload(record)
            return record
        } catch {
            log("\(record.objectURI): cannot record upload \(record.id) (\(error))")
            return nil
        }
    }

    /// Reads the object of `event` to its end for its SHA-256, size and encoding; nil when it is
    /// gone or its current generation is another.
    private func fingerprintObject(_ event: ObjectEvent) throws -> ObjectFingerprint? {
        let reader: any ObjectReader
        do { reader = try store.open(uri: event.uri) } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return nil
        }
        defer { reader.close() }
        if let generation = reader.generation, generation != event.generation {
            return nil
        }
        var hasher = SHA256()
        var validator = UTF8Validator()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(bufferPointer: chunk)
            validator.feed(chunk)
            size += Int64(count)
        }
        let sha256 = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return ObjectFingerprint(sha256: sha256, size: size, encoding: validator.finish() ? .utf8 : .windows1252)
    }
}

/// What one read of an object learned.
struct ObjectFingerprint: Sendable {
    var sha256: String
    var size: Int64
    var encoding: TextEncoding
}
