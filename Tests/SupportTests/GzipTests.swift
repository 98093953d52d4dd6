import CZlib
import Foundation
import Support
import Testing

/// A gzip stream written in pieces is the same bytes once inflated.
@Suite struct GzipWriterTests {
    static func inflate(_ compressed: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard cn_inflate_init_gzip(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var input = compressed
        return input.withUnsafeMutableBytes { source -> [UInt8]? in
            stream.next_in = source.bindMemory(to: Bytef.self).baseAddress
            stream.avail_in = uInt(source.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBytes { destination -> (Int32, Int) in
                    stream.next_out = destination.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(destination.count)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, destination.count - Int(stream.avail_out))
                }
                output += chunk[0..<produced]
                if status == Z_STREAM_END { return output }
                if status != Z_OK { return nil }
            }
        }
    }

    @Test func piecesOfAnySizeInflateToTheWholeInput() throws {
        var generator = SystemRandomNumberGenerator()
        var whole: [UInt8] = []
        let writer = try GzipWriter(level: 1)
        for size in [0, 1, 7, 65_536, 100_000, 3, 250_000] {
            let piece = (0..<size).map { _ in UInt8.random(in: 32...90, using: &generator) }
            whole += piece
            try writer.write(piece)
        }
        let compressed = try writer.finish()
        #expect(writer.inputBytes == whole.count)
        #expect(Self.inflate(compressed) == whole)
        #expect(try writer.finish() == compressed, "finishing again gives the same stream")
        #expect(compressed.count < whole.count)
    }
}

/// The inflater's caps and framing: what makes a decompression bomb an error and a cut-short
/// file detectable.
@Suite struct GzipInflaterTests {
    /// Inflates `compressed` through `inflater` in pieces of `piece` bytes; the output, or the error.
    static func run(_ inflater: GzipInflater, _ compressed: [UInt8], piece: Int = 1000) -> Result<[UInt8], GzipError> {
        var output: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        var offset = 0
        do {
            while offset < compressed.count {
                let end = min(compressed.count, offset + piece)
                var start = offset
                while start < end {
                    let (taken, written) = try compressed[start..<end].withUnsafeBytes { input in
                        try scratch.withUnsafeMutableBytes { out throws(GzipError) in try inflater.inflate(input, into: out) }
                    }
                    output += scratch[0..<written]
                    start += taken
                    if taken == 0 && written == 0 { break }
                }
                offset = end
            }
        } catch let error as GzipError {
            return .failure(error)
        } catch {
            return .failure(.damaged("not a gzip error: \(error)"))
        }
        return .success(output)
    }

    @Test func twoMembersInARowInflateToBothAndEndComplete() throws {
        let first = Array("Invoice,StockCode\n".utf8), second = Array("536365,85123A\n".utf8)
        let joined = try #require(Gzip.compress(first)) + (try #require(Gzip.compress(second)))
        let inflater = try GzipInflater(maxBytes: 1 << 20)
        #expect(try Self.run(inflater, joined, piece: 7).get() == first + second)
        #expect(inflater.isComplete)
    }

    @Test func aStreamCutShortIsNotComplete() throws {
        let compressed = try #require(Gzip.compress(Array(repeating: UInt8(ascii: "x"), count: 50_000)))
        let inflater = try GzipInflater(maxBytes: 1 << 20)
        _ = try Self.run(inflater, Array(compressed.dropLast(9))).get()
        #expect(!inflater.isComplete)
    }

    @Test func moreThanTheByteCapIsRefused() throws {
        let compressed = try #require(Gzip.compress(Array(repeating: UInt8(ascii: "7"), count: 300_000)))
        let inflater = try GzipInflater(maxBytes: 200_000, maxRatio: 1_000_000)
        guard case .failure(.tooLarge(let message)) = Self.run(inflater, compressed) else {
            Issue.record("300,000 bytes passed a cap of 200,000")
            return
        }
        #expect(message.contains("200000 bytes"))
    }

    @Test func aBombPastTheRatioIsRefusedOnceAMiBIsOut() throws {
        // 8 MiB of one byte compresses about a thousand times: far past a ratio of 200.
        let compressed = try #require(Gzip.compress(Array(repeating: 0, count: 8 << 20), level: 9))
        let inflater = try GzipInflater(maxBytes: 1 << 40, maxRatio: 200)
        guard case .failure(.tooLarge(let message)) = Self.run(inflater, compressed, piece: 512) else {
            Issue.record("a \(compressed.count)-byte bomb was inflated")
            return
        }
        #expect(message.contains("200 times"))
        #expect(inflater.bytesOut > 1 << 20 && inflater.bytesOut < 2 << 20, "stopped soon after the first MiB")
    }

    @Test func bytesThatAreNotGzipAreDamaged() throws {
        let inflater = try GzipInflater(maxBytes: 1 << 20)
        let notGzip: [UInt8] = [0x1f, 0x8b] + Array("plain text, not deflate".utf8)
        guard case .failure(.damaged) = Self.run(inflater, notGzip) else {
            Issue.record("plain text inflated")
            return
        }
        #expect(Gzip.isGzip(notGzip) && !Gzip.isGzip(Array("PK".utf8)) && !Gzip.isGzip([0x1f]))
    }
}
