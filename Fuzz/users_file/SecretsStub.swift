// The users file harness decodes JSON only: this stands in for the swift-crypto-backed
// Secrets.tokenHash that UserDirectory (not fuzzed) calls.

enum Secrets {
    static func tokenHash(_ token: String) -> String { token }
}
