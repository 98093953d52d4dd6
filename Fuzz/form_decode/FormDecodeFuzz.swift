// The percent and form decoders on arbitrary text. Invariants: what decodes, encoded again
// and decoded, gives the same pairs; a query's parameters agree with FormURLEncoded.parse;
// a decodable path encodes and decodes to itself.
@testable import HTTPServer

private let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))

private func encode(_ text: String, spaceAsPlus: Bool) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for byte in text.utf8 {
        if unreserved.contains(byte) {
            out.append(byte)
        } else if spaceAsPlus && byte == 0x20 {
            out.append(UInt8(ascii: "+"))
        } else {
            out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        }
    }
    return String(decoding: out, as: UTF8.self)
}

private func same(_ a: [(name: String, value: String)]?, _ b: [(name: String, value: String)]?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.value == $1.value }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFormDecode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let fromBytes = FormURLEncoded.parse(bytes)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        if fromBytes != nil { violated("bytes that are not UTF-8 parsed as form data") }
        return 0
    }
    let pairs = FormURLEncoded.parse(text[...])
    if !same(pairs, fromBytes) { violated("parse(bytes) and parse(text) differ") }
    if let pairs {
        for pair in pairs where pair.name.utf8.contains(0) || pair.value.utf8.contains(0) { violated("a decoded NUL") }
        let encoded = pairs.map { encode($0.name, spaceAsPlus: true) + "=" + encode($0.value, spaceAsPlus: false) }.joined(separator: "&")
        let decodedAgain = FormURLEncoded.parse(encoded[...])
        if !same(pairs, decodedAgain) { violated("encode then parse is not stable: \(pairs) vs \(String(describing: decodedAgain))") }
    }

    // The same text as a query string.
    if !text.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
        let head = HTTPRequestHead(method: "GET", target: "/?" + text)
        if head.query != text { violated("the query is not the text after '?'") }
        let undecodable = head.undecodableQueryParameter
        if (pairs == nil) != (undecodable != nil) { violated("undecodableQueryParameter disagrees with parse") }
        if let pairs, let first = pairs.first {
            let expected = pairs.first { $0.name == first.name }!.value
            if head.queryValue(first.name) != expected { violated("queryValue disagrees with parse") }
        }
    }

    // The text as a path.
    if let path = PercentDecoding.decodePath(bytes) {
        if path.utf8.contains(0) { violated("a path with a NUL") }
        let again = PercentDecoding.decodePath(Array(encode(path, spaceAsPlus: false).utf8))
        if again != path { violated("a path does not survive encoding: \(path)") }
        if let form = PercentDecoding.decodeForm(text[...]), !bytes.contains(UInt8(ascii: "+")), form != path {
            violated("the path and form decoders disagree without '+'")
        }
    }
    return 0
}
