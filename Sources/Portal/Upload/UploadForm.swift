import HTTPServer

/// The parts of one upload request: files spooled to disk, small text fields in memory.
struct UploadForm {
    var files: [ReceivedFile] = []
    var fields: [String: String] = [:]

    /// Limits of one form.
    struct Limits {
        var maxFiles: Int
        var maxFieldBytes = 65_536
        /// The most a gzip file may decompress to.
        var maxDecompressedBytes: Int64 = 4 << 30
    }

    /// Takes a multipart/form-data body piece by piece (`consume`, then `finish`), spooling each
    /// file part (field `file`, or any part with a file name) and keeping small fields in memory.
    /// On any error, and on `discard`, every spool file made so far is deleted.
    final class Intake {
        private var parser: MultipartParser
        private var receiver: Receiver
        private var ended = false

        /// Refuses a body that is not multipart/form-data with a boundary before any byte is read.
        init(contentType: String, spoolDirectory: String, limits: Limits) throws(PortalError) {
            guard contentType.lowercased().hasPrefix("multipart/form-data") else {
                throw .unsupportedMediaType("send the files as multipart/form-data (e.g. curl -F file=@IN.csv)")
            }
            guard let boundary = MultipartParser.boundary(fromContentType: contentType) else {
                throw .badRequest(code: "missing_boundary", message: "the multipart Content-Type has no boundary")
            }
            receiver = Receiver(spoolDirectory: spoolDirectory, limits: limits)
            // A part named `file` is a file even without a file name (`curl -F 'file=<IN.csv'`),
            // so the field limit is applied here, to real fields only.
            parser = MultipartParser(
                boundary: boundary,
                limits: MultipartLimits(maxParts: limits.maxFiles + 16, maxFieldValueBytes: Int.max))
        }

        /// The next bytes of the body. What follows the closing boundary is ignored.
        func consume(_ bytes: UnsafeRawBufferPointer) throws(PortalError) {
            guard !ended else { return }
            parser.append(bytes)
            try takeEvents()
        }

        /// After the last byte: the form, or an error when the body stopped before its end.
        func finish() throws(PortalError) -> UploadForm {
            if !ended {
                parser.finish()
                try takeEvents()
            }
            guard ended else {
                receiver.discardAll()
                throw .badRequest(code: "bad_multipart", message: "malformed multipart body: the body ended before the closing boundary")
            }
            return receiver.form
        }

        /// Deletes every spool file made so far.
        func discard() { receiver.discardAll() }

        private func takeEvents() throws(PortalError) {
            do {
                while let event = try parser.next() {
                    if try receiver.handle(event) {
                        ended = true
                        return
                    }
                }
            } catch {
                receiver.discardAll()
                ended = true
                throw UploadForm.describe(error)
            }
        }
    }

    private static func describe(_ error: any Error) -> PortalError {
        if let error = error as? MultipartError {
            if case .tooManyParts = error { return .tooLarge(error.message) }
            return .badRequest(code: "bad_multipart", message: "malformed multipart body: \(error.message)")
        }
        if let error = error as? PortalError { return error }
        return .storage("cannot spool the upload: \(error)")
    }

    /// Turns parser events into spool files and fields.
    private struct Receiver {
        let spoolDirectory: String
        let limits: Limits
        var form = UploadForm()
        var currentFile: (name: String, spool: SpoolFile)?
        var currentField: (name: String, bytes: [UInt8])?
        var openSpools: [SpoolFile] = []

        init(spoolDirectory: String, limits: Limits) {
            self.spoolDirectory = spoolDirectory
            self.limits = limits
        }

        /// Returns true at the end of the form.
        mutating func handle(_ event: MultipartEvent) throws -> Bool {
            switch event {
            case .partBegin(let head):
                if let fileName = head.filename ?? (head.name == "file" ? "" : nil) {
                    guard form.files.count + (currentFile == nil ? 0 : 1) < limits.maxFiles else {
                        throw PortalError.tooLarge("at most \(limits.maxFiles) files per upload")
                    }
                    let spool = try SpoolFile(directory: spoolDirectory, maxDecompressedBytes: limits.maxDecompressedBytes)
                    openSpools.append(spool)
                    currentFile = (fileName, spool)
                } else {
                    currentField = (head.name ?? "", [])
                }
            case .body(let bytes):
                if let file = currentFile {
                    try bytes.withUnsafeBytes { buffer throws in try file.spool.write(buffer) }
                } else if currentField != nil {
                    guard currentField!.bytes.count + bytes.count <= limits.maxFieldBytes else {
                        throw PortalError.tooLarge("form field \(currentField!.name) is over \(limits.maxFieldBytes) bytes")
                    }
                    currentField!.bytes.append(contentsOf: bytes)
                }
            case .partEnd:
                if let file = currentFile {
                    form.files.append(ReceivedFile(fileName: file.name, content: file.spool.finish()))
                    currentFile = nil
                } else if let field = currentField {
                    form.fields[field.name] = String(decoding: field.bytes, as: UTF8.self)
                    currentField = nil
                }
            case .end:
                return true
            }
            return false
        }

        /// Deletes every spool file, finished or not.
        func discardAll() {
            for spool in openSpools { spool.discard() }
        }
    }
}
