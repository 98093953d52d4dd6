// The request parser on arbitrary bytes: the first byte picks how the rest is split.
// Invariants: the events (bodies joined) and the error are the same whatever the split; the
// bodies never hold more bytes than were fed, nor more than a head announced.
@testable import HTTPServer

private enum Event: Equatable {
    case head(String)
    case body([UInt8])
    case end(String)
    case failure(HTTPError)
}

private func describe(_ head: HTTPRequestHead) -> String {
    "\(head.method) \(head.target) \(head.path) ?\(head.query) \(head.version) \(head.headers.map { "\($0.0): \($0.1)" }) "
        + "keepAlive=\(head.keepAlive) length=\(String(describing: head.contentLength)) chunked=\(head.isChunked)"
}

private func parse(_ input: UnsafeBufferPointer<UInt8>, pieces: [Int], limits: HTTPLimits) -> (events: [Event], bodyBytes: Int) {
    var parser = HTTPRequestParser(limits: limits)
    var events: [Event] = []
    var bodyBytes = 0
    var offset = 0
    var announced: Int64? = nil
    var bodyOfRequest: Int64 = 0
    func add(_ event: Event) {
        if case .body(let bytes) = event, case .body(let previous)? = events.last {
            events[events.count - 1] = .body(previous + bytes)
        } else {
            events.append(event)
        }
    }
    outer: for length in pieces {
        parser.append(UnsafeBufferPointer(rebasing: input[offset..<(offset + length)]))
        offset += length
        while true {
            do {
                guard let event = try parser.next() else { break }
                switch event {
                case .head(let head):
                    announced = head.isChunked ? nil : (head.contentLength ?? 0)
                    bodyOfRequest = 0
                    add(.head(describe(head)))
                case .body(let slice):
                    if slice.isEmpty { violated("an empty body event") }
                    bodyBytes += slice.count
                    bodyOfRequest += Int64(slice.count)
                    if let announced, bodyOfRequest > announced { violated("body longer than its Content-Length") }
                    add(.body(Array(slice)))
                case .end(let trailers):
                    if let announced, bodyOfRequest != announced { violated("request ended before its Content-Length") }
                    add(.end("\(trailers.map { "\($0.0): \($0.1)" })"))
                }
            } catch {
                add(.failure(error))
                break outer
            }
        }
        if bodyBytes > offset { violated("more body bytes (\(bodyBytes)) than fed (\(offset))") }
    }
    return (events, bodyBytes)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let seed = data[0]
    let input = UnsafeBufferPointer(start: data + 1, count: size - 1)
    var limits = HTTPLimits()
    if seed & 0x80 != 0 {
        // Small limits, so that the limit checks are reached too.
        limits.maxRequestLineBytes = 64
        limits.maxHeaderBytes = 256
        limits.maxHeaderCount = 4
        limits.maxChunkSizeLineBytes = 16
    }
    let whole = parse(input, pieces: [input.count], limits: limits)
    let split = parse(input, pieces: Array(Pieces(seed: seed, total: input.count, maxPiece: Int(seed & 0x3F) + 1)), limits: limits)
    let bytewise = parse(input, pieces: Array(repeating: 1, count: input.count), limits: limits)
    if whole.events != split.events { violated("split changes the events:\n\(whole.events)\n\(split.events)") }
    if whole.events != bytewise.events { violated("byte-wise feeding changes the events:\n\(whole.events)\n\(bytewise.events)") }
    return 0
}
