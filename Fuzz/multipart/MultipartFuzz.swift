// The multipart parser. The first byte gives the boundary's length (1…70), the next bytes the
// boundary, the rest is the body, fed in pseudo-random pieces. Invariants: the events (bodies
// joined) and the error are the same whatever the split; no more body bytes come out than went
// in; parts begin and end in order. Then the part bodies seen are framed again with a fresh
// boundary and parsed: the same parts come back.
@testable import HTTPServer

private enum Event: Equatable {
    case begin([String])
    case body([UInt8])
    case partEnd
    case end
    case failure(MultipartError)
}

private func parse(_ body: [UInt8], boundary: String, pieces: [Int]) -> [Event] {
    var parser = MultipartParser(boundary: boundary, limits: MultipartLimits(maxPartHeaderBytes: 512, maxParts: 8, maxFieldValueBytes: 1024))
    var events: [Event] = []
    var offset = 0
    var bodyBytes = 0
    var inPart = false
    func add(_ event: Event) {
        if case .body(let bytes) = event, case .body(let previous)? = events.last {
            events[events.count - 1] = .body(previous + bytes)
        } else {
            events.append(event)
        }
    }
    func drain() -> Bool {
        do {
            while let event = try parser.next() {
                switch event {
                case .partBegin(let head):
                    if inPart { violated("a part begins inside a part") }
                    inPart = true
                    add(.begin(head.headers.map { "\($0.name): \($0.value)" }))
                case .body(let slice):
                    if !inPart { violated("body bytes outside a part") }
                    if slice.isEmpty { violated("an empty body event") }
                    bodyBytes += slice.count
                    add(.body(Array(slice)))
                case .partEnd:
                    if !inPart { violated("a part ends that did not begin") }
                    inPart = false
                    add(.partEnd)
                case .end:
                    if inPart { violated("the body ends inside a part") }
                    add(.end)
                    return true
                }
            }
        } catch {
            // A limit stops the stream where it is crossed: how much of the part came out before
            // depends on the piece sizes, so the body just before an error is not compared.
            if case .body? = events.last { events.removeLast() }
            add(.failure(error))
            return true
        }
        if bodyBytes > offset { violated("\(bodyBytes) body bytes out of \(offset) fed") }
        return false
    }
    for length in pieces {
        parser.append(body[offset..<(offset + length)])
        offset += length
        if drain() { return events }
    }
    parser.finish()
    if !drain() { violated("the input finished without an end or an error") }
    return events
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 2 else { return 0 }
    let length = Int(data[0]) % 70 + 1
    guard size > 1 + length else { return 0 }
    let boundaryBytes = UnsafeBufferPointer(start: data + 1, count: length)
    // Boundaries are header parameter text: no line ends.
    guard !boundaryBytes.contains(10), !boundaryBytes.contains(13),
          let boundary = String(validating: boundaryBytes, as: UTF8.self) else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1 + length, count: size - 1 - length))
    let seed = data[0] ^ data[size - 1]

    let whole = parse(body, boundary: boundary, pieces: [body.count])
    let split = parse(body, boundary: boundary, pieces: Array(Pieces(seed: seed, total: body.count, maxPiece: Int(seed & 0x7F) + 1)))
    if whole != split { violated("split changes the events:\n\(whole)\n\(split)") }

    // Frame the complete parts again and parse them.
    guard whole.last == .end else { return 0 }
    var parts: [[UInt8]] = []
    for event in whole {
        switch event {
        case .begin: parts.append([])
        case .body(let bytes): parts[parts.count - 1] += bytes
        default: break
        }
    }
    let fresh = "fuzz-boundary-0123456789"
    if parts.contains(where: { String(decoding: $0, as: UTF8.self).contains(fresh) }) { return 0 }
    var framed: [UInt8] = []
    for (index, part) in parts.enumerated() {
        framed += Array("--\(fresh)\r\nContent-Disposition: form-data; name=\"f\(index)\"; filename=\"f.csv\"\r\n\r\n".utf8)
        framed += part + [13, 10]
    }
    framed += Array("--\(fresh)--\r\n".utf8)
    let again = parse(framed, boundary: fresh, pieces: Array(Pieces(seed: seed &+ 7, total: framed.count, maxPiece: 33)))
    var partsAgain: [[UInt8]] = []
    for event in again {
        switch event {
        case .begin: partsAgain.append([])
        case .body(let bytes): partsAgain[partsAgain.count - 1] += bytes
        case .failure(let error): violated("re-framed parts were refused: \(error)")
        default: break
        }
    }
    if partsAgain != parts { violated("re-framed parts differ: \(parts) vs \(partsAgain)") }
    return 0
}
