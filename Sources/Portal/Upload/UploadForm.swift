import HTTPServer

/// The parts of one upload request: files spooled to disk, small text fields in memory.
struct UploadForm {
    var files: [ReceivedFile] = []
    var fields: [String: String] = [:]

    /// Limits of one form.
    struct Limits {
        var maxFiles: Int
        var maxFieldBytes = 65_536
    }

    /// Reads a multipart/form-data body to its end, spooling each file part (field `file`,
    /// or any part with a file name). On any error every spool file made so far is deleted.
    static func receive(
        contentType: String, body: any HTTPBodyReader, spoolDirectory: String, limits: Limits
    ) throws -> UploadForm {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw PortalError.unsupportedMediaType(
                "send the files as multipart/form-data (e.g. curl -F file=@IN.csv)")
        }
        guard let boundary = MultipartParser.boundary(fromContentType: contentType) else {
            throw PortalError.badRequest(code: "missing_boundary", message: "the multipart Content-Type has no boundary")
        }
        var receiver = Receiver(spoolDirectory: spoolDirectory, limits: limits)
        // A part named `file` is a file even without a file name (`curl -F 'file=<IN.csv'`),
        // so the field limit is applied here, to real fields only.
        var parser = MultipartParser(
            boundary: boundary,
            limits: MultipartLimits(maxParts: limits.maxFiles + 16, maxFieldValueBytes: Int.max))
        do {
            var finished = false
            while !finished {
                if let chunk = try body.read() {
                    chunk.withUnsafeBytes { parser.append($0) }
                } else {
                    parser.finish()
                    finished = true
                }
                while let event = try parser.next() {
                    if try receiver.handle(event) { finished = true; break }
                }
            }
            // Drain what the client sent after the closing boundary.
            while try body.read() != nil {}
        } catch {
            receiver.discardAll()
            throw Self.describe(error)
        }
        return receiver.form
    }

    private static func describe(_ error: any Error) -> any Error {
        if let error = error as? MultipartError {
            if case .tooManyParts = error { return PortalError.tooLarge(error.message) }
            return PortalError.badRequest(code: "bad_multipart", message: "malformed multipart body: \(error.message)")
        }
        return error
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
                    let spool = try SpoolFile(directory: spoolDirectory)
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
