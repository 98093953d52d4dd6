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
            // The last 1…7 bytes, little-endian, zero-padded.
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            if count - i >= 4 {
                tail = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                shift = 32
                i += 4
            }
            if count - i >= 2 {
                tail |= UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt16.self))) << shift
                shift += 16
                i += 2
            }
            if i < count { tail |= UInt64(base[i]) << shift }
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

/// The row keys seen among the last N rows: a ring of keys and an open-addressing index
/// (linear probing, deletion by backward shift), so each check is O(1) and the memory is fixed:
/// 16 bytes per window row plus 8 bytes per index slot. An index entry holds 32 bits of the
/// key's hash beside its ring slot, so probing rarely touches the ring.
struct RowKeyWindow: ~Copyable {
    let capacity: Int
    private let ring: UnsafeMutablePointer<RowKey>
    private var ringNext = 0
    private var ringFilled = 0
    /// `fingerprint << 32 | (ring slot + 1)`, or 0 when empty.
    private let table: UnsafeMutablePointer<UInt64>
    private let mask: Int

    init(capacity: Int) {
        self.capacity = min(max(0, capacity), ETLSettings.maxDedupeWindowRows)
        var size = 16
        while size < self.capacity * 2 { size *= 2 }
        mask = size - 1
        ring = .allocate(capacity: max(1, self.capacity))
        table = .allocate(capacity: size)
        table.initialize(repeating: 0, count: size)
    }

    deinit {
        ring.deallocate()
        table.deallocate()
    }

    @inline(__always)
    private static func fingerprint(_ key: RowKey) -> UInt64 {
        (key.low ^ (key.high &* 0x9E37_79B9_7F4A_7C15)) >> 32
    }

    /// True when `key` is in the window; otherwise adds it (dropping the oldest when full).
    mutating func containsOrInsert(_ key: RowKey) -> Bool {
        guard capacity > 0 else { return false }
        let print = Self.fingerprint(key)
        var slot = Int(truncatingIfNeeded: print) & mask
        while true {
            let entry = table[slot]
            if entry == 0 { break }
            if entry >> 32 == print && ring[Int(entry & 0xFFFF_FFFF) - 1] == key { return true }
            slot = (slot + 1) & mask
        }
        if ringFilled == capacity {
            remove(ring[ringNext])
            ring[ringNext] = key
            // The removal may have shifted entries: find the free slot again.
            slot = Int(truncatingIfNeeded: print) & mask
            while table[slot] != 0 { slot = (slot + 1) & mask }
        } else {
            (ring + ringNext).initialize(to: key)
            ringFilled += 1
        }
        table[slot] = print << 32 | UInt64(ringNext + 1)
        ringNext = ringNext + 1 == capacity ? 0 : ringNext + 1
        return false
    }

    private mutating func remove(_ key: RowKey) {
        let wanted = UInt64(ringNext + 1)
        var hole = Int(truncatingIfNeeded: Self.fingerprint(key)) & mask
        while table[hole] & 0xFFFF_FFFF != wanted { hole = (hole + 1) & mask }
        // Backward-shift deletion keeps every probe chain unbroken.
        var next = (hole + 1) & mask
        while table[next] != 0 {
            let home = Int(truncatingIfNeeded: table[next] >> 32) & mask
            // Move the entry into the hole when the hole is on its probe path (home … next).
            if (hole - home) & mask < (next - home) & mask {
                table[hole] = table[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        table[hole] = 0
    }
}
