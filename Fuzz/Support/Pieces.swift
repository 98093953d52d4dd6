// Splits fuzz input into pieces of pseudo-random sizes, the same way for the same input.

/// Piece lengths from a seed: a small xorshift generator, so a split is reproducible.
struct Pieces: Sequence, IteratorProtocol {
    private var state: UInt64
    private var remaining: Int
    private let maxPiece: Int

    init(seed: UInt8, total: Int, maxPiece: Int = 64) {
        state = 0x9E37_79B9_7F4A_7C15 &* (UInt64(seed) &+ 1)
        remaining = total
        self.maxPiece = Swift.max(1, maxPiece)
    }

    mutating func next() -> Int? {
        guard remaining > 0 else { return nil }
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let length = Swift.min(remaining, Int(state % UInt64(maxPiece)) + 1)
        remaining -= length
        return length
    }
}

/// Stops the run with a message libFuzzer reports as a crash.
func violated(_ message: String) -> Never {
    fatalError("invariant violated: \(message)")
}
