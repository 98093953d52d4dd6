// Portal declarations the configuration sources use that live in files with heavier
// dependencies; compiled with Sources/Portal/Config for the config harness only.

struct ObjectPattern {
    init(_ text: String) throws(ConfigError) {
        if text.isEmpty { throw .invalid("empty object pattern") }
    }
}

extension String {
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
