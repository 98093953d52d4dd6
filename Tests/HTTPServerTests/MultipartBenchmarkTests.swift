#if canImport(Glibc)
import Glibc
#endif
import HTTPServer
import Testing

/// A throughput check run by hand in release mode:
/// `MULTIPART_BENCHMARK=1 swift test -c release --filter MultipartBenchmark`.
@Suite struct MultipartBenchmarkTests {
    @Test(.enabled(if: getenv("MULTIPART_BENCHMARK") != nil))
    func hundredMegabytesThroughTheParser() throws {
        let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
        let line = Array("536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\r\n".utf8)
        var chunk: [UInt8] = []
        while chunk.count < 65536 { chunk.append(contentsOf: line) }
        chunk.removeLast(chunk.count - 65536)
        let chunkCount = 100 * 1_048_576 / chunk.count
        let head = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n".utf8)
        let tail = Array("\r\n--\(boundary)--\r\n".utf8)
        for round in 0..<3 {
            var parser = MultipartParser(boundary: boundary)
            var received = 0
            let started = ContinuousClock.now
            parser.append(head)
            for _ in 0..<chunkCount {
                chunk.withUnsafeBytes { parser.append($0) }
                while let event = try parser.next() {
                    if case .body(let bytes) = event { received += bytes.count }
                }
            }
            parser.append(tail)
            parser.finish()
            while let event = try parser.next() {
                if case .body(let bytes) = event { received += bytes.count }
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(received == chunkCount * chunk.count)
            print("multipart round \(round): \(received / 1_048_576) MB in \(seconds) s = \(Int(Double(received) / 1_048_576 / seconds)) MB/s")
        }
    }

    /// LF-only data fed one byte at a time must stay linear (no rescans of held bytes).
    @Test(.enabled(if: getenv("MULTIPART_BENCHMARK") != nil))
    func lineFeedOnlyBodyByteByByte() throws {
        let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
        var body = Array("--\(boundary)\nContent-Disposition: form-data; name=\"file\"; filename=\"lf.csv\"\n\n".utf8)
        let line = Array("536365,85123A,-- LF only --,6\n--\(boundary.prefix(20))\n".utf8)
        let lines = 4 * 1_048_576 / line.count
        for _ in 0..<lines { body.append(contentsOf: line) }
        body.append(contentsOf: Array("\n--\(boundary)--\n".utf8))
        var parser = MultipartParser(boundary: boundary)
        var received = 0
        let started = ContinuousClock.now
        for index in body.indices {
            parser.append(body[index..<index + 1])
            while let event = try parser.next() {
                if case .body(let bytes) = event { received += bytes.count }
            }
        }
        parser.finish()
        while let event = try parser.next() {
            if case .body(let bytes) = event { received += bytes.count }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(received == lines * line.count)
        print("multipart LF-only, 1-byte chunks: \(body.count / 1_048_576) MB in \(seconds) s = \(Int(Double(body.count) / 1_048_576 / seconds)) MB/s")
    }
}
