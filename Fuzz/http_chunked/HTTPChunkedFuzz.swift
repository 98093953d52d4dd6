// Chunked body decoding. Even first byte: the rest is a payload, encoded here as chunks (sizes,
// extensions, LF or CRLF, trailers from the payload) and parsed in pieces; the decoded body
// must be the payload. Odd first byte: the rest follows a chunked request head as raw bytes;
// the body never holds more bytes than were fed, and splitting the input changes nothing.
@testable import HTTPServer

private let head = Array("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)

private struct Outcome: Equatable {
    var body: [UInt8] = []
    var trailers: [String] = []
    var ended = false
    var error: HTTPError?
}

private func run(_ bytes: [UInt8], pieces: [Int]) -> Outcome {
    var parser = HTTPRequestParser()
    var outcome = Outcome()
    var offset = 0
    var fed = 0
    outer: for length in pieces {
        parser.append(bytes[offset..<(offset + length)])
        offset += length
        fed = offset - head.count
        while true {
            do {
                guard let event = try parser.next() else { break }
                switch event {
                case .head(let parsed):
                    if !parsed.isChunked { violated("the head is not chunked") }
                case .body(let slice):
                    outcome.body += slice
                case .end(let trailers):
                    outcome.trailers = trailers.map { "\($0.0): \($0.1)" }
                    outcome.ended = true
                    break outer
                }
            } catch {
                outcome.error = error
                break outer
            }
        }
        if outcome.body.count > max(0, fed) { violated("body of \(outcome.body.count) bytes from \(fed) fed") }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunked(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let seed = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if seed & 1 == 1 {
        let bytes = head + input
        let whole = run(bytes, pieces: [bytes.count])
        let split = run(bytes, pieces: Array(Pieces(seed: seed, total: bytes.count, maxPiece: Int(seed >> 2) + 1)))
        if whole != split { violated("split changes the outcome:\n\(whole)\n\(split)") }
        return 0
    }
    // Encode the payload: chunk sizes come from the payload's own bytes.
    var encoded = head
    var sizes = Pieces(seed: seed, total: input.count, maxPiece: Int(seed >> 1) + 1)
    var offset = 0
    let lineEnd: [UInt8] = seed & 2 == 0 ? [13, 10] : [10]
    var index = 0
    while let length = sizes.next() {
        var line = String(length, radix: 16, uppercase: index % 2 == 0)
        if index % 3 == 1 { line = "0" + line }
        if index % 5 == 2 { line += ";ext=\"v\"" }
        encoded += Array(line.utf8) + lineEnd + input[offset..<(offset + length)] + lineEnd
        offset += length
        index += 1
    }
    encoded += Array("0".utf8) + lineEnd
    let trailerValue = String(decoding: input.prefix(8).filter { $0 >= 0x21 && $0 < 0x7F }, as: UTF8.self)
    if !trailerValue.isEmpty { encoded += Array("X-Trailer: \(trailerValue)".utf8) + lineEnd }
    encoded += lineEnd
    let outcome = run(encoded, pieces: Array(Pieces(seed: seed &+ 1, total: encoded.count, maxPiece: 97)))
    if let error = outcome.error { violated("a well-formed chunked body was refused: \(error)") }
    if !outcome.ended { violated("a complete chunked body did not end") }
    if outcome.body != input { violated("the decoded body differs from the payload") }
    let expected = trailerValue.isEmpty ? [] : ["X-Trailer: \(trailerValue)"]
    if outcome.trailers != expected { violated("trailers \(outcome.trailers), expected \(expected)") }
    return 0
}
