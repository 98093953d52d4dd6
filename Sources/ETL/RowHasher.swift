// The stable 64-bit hash in the low half of a row key.

/// A streaming 64-bit hash of byte strings and integers, the same on every run and platform
/// (words are read little-endian whatever the machine). Each part is prefixed by its length,
/// so `("ab", "c")` and `("a", "bc")` differ. Multiply-xorshift mixing per 8-byte word and the
/// MurmurHash3 finalizer: fast, well spread, not cryptographic.
struct RowHasher {
    private var state: UInt64

    private static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
    private static let seed: UInt64 = 0x5341_4C45_5350_4F52  // "SALESPOR"

    init() { state = Self.seed }

    @inline(__always)
    private mutating func mix(_ word: UInt64) {
        state = (state ^ word) &* Self.multiplier
        state ^= state >> 29
    }

    /// Adds an integer.
    @inline(__always)
    mutating func combine(_ value: UInt64) { mix(value) }

    /// Adds a byte string, length first.
    mutating func combine(_ bytes: UnsafeBufferPointer<UInt8>) {
        let count = bytes.count
        mix(UInt64(count) | 0xB0B0_0000_0000_0000)
        guard let base = bytes.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= count {
            mix(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        if i < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                tail |= UInt64(base[i]) << shift
                shift += 8
                i += 1
            }
            mix(tail)
        }
    }

    /// Marks an absent value (distinct from an empty one).
    mutating func combineAbsent() { mix(0xA85E_17A8_5E17_A85E) }

    /// The hash of everything added.
    func finalize() -> UInt64 {
        var h = state
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}

/// The row keys seen among the last N rows: a ring of keys and an open-addressing index of
/// ring slots (linear probing, deletion by backward shift), so each check is O(1) and the
/// memory is fixed: 16 bytes per window row plus 4 bytes per index slot.
struct RowKeyWindow {
    private var ring: [RowKey]
    private var ringNext = 0
    private var ringFilled = 0
    /// Ring slot + 1, or 0 when empty.
    private var table: [UInt32]
    private let mask: Int

    init(capacity: Int) {
        ring = []
        ring.reserveCapacity(capacity)
        var size = 16
        while size < capacity * 2 { size *= 2 }
        table = [UInt32](repeating: 0, count: capacity == 0 ? 0 : size)
        mask = size - 1
        self.capacity = capacity
    }

    let capacity: Int

    @inline(__always)
    private func home(_ key: RowKey) -> Int { Int(truncatingIfNeeded: key.low ^ (key.high &* 0x9E37_79B9_7F4A_7C15)) & mask }

    /// True when `key` is in the window; otherwise adds it (dropping the oldest when full).
    mutating func containsOrInsert(_ key: RowKey) -> Bool {
        guard capacity > 0 else { return false }
        var slot = home(key)
        while table[slot] != 0 {
            if ring[Int(table[slot]) - 1] == key { return true }
            slot = (slot + 1) & mask
        }
        if ringFilled == capacity {
            remove(ring[ringNext])
            ring[ringNext] = key
        } else {
            ring.append(key)
            ringFilled += 1
        }
        // The removal may have shifted entries: find the free slot again.
        slot = home(key)
        while table[slot] != 0 { slot = (slot + 1) & mask }
        table[slot] = UInt32(ringNext + 1)
        ringNext = ringNext + 1 == capacity ? 0 : ringNext + 1
        return false
    }

    private mutating func remove(_ key: RowKey) {
        var slot = home(key)
        while table[slot] != UInt32(ringNext + 1) {
            slot = (slot + 1) & mask
        }
        // Backward-shift deletion keeps every probe chain unbroken.
        var hole = slot
        var next = (hole + 1) & mask
        while table[next] != 0 {
            let wanted = home(ring[Int(table[next]) - 1])
            // Move the entry into the hole when its home is not cyclically in (hole, next].
            let distanceToNext = (next - wanted) & mask
            let distanceToHole = (hole - wanted) & mask
            if distanceToHole < distanceToNext {
                table[hole] = table[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        table[hole] = 0
    }
}
