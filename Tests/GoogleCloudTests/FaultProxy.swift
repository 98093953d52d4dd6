import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP proxy for tests that forwards one request per connection to an
/// upstream server (an emulator) and, when a rule matches, misbehaves instead:
/// answers an error status, resets the connection in the middle of the request body,
/// forwards the request but resets instead of answering, or stalls.
///
/// @unchecked Sendable: the listening socket is written once before the accept thread
/// starts; every mutable field is inside a Mutex.
final class FaultProxy: @unchecked Sendable {
    enum Fault: Sendable {
        /// Answer this status with Google's error JSON; the upstream never sees the request.
        case status(Int)
        /// Read half of the body, then reset the connection: the upstream never sees the request.
        case resetMidBody
        /// Forward the request (the upstream acts on it), then reset instead of answering.
        case forwardThenReset
        /// Read the request and answer nothing for this many seconds.
        case stall(seconds: Double)
    }

    /// What a rule sees of a request.
    struct RequestHead: Sendable {
        var method: String
        var target: String
        var headers: [String: String]
        var bodyLength: Int
    }

    private struct Rule {
        var matches: @Sendable (RequestHead) -> Bool
        var skip: Int
        var fault: Fault
    }

    private struct State {
        var rules: [Rule] = []
        var log: [String] = []
        var injected: [String] = []
        var stopped = false
    }

    let upstreamPort: UInt16
    private(set) var port: UInt16 = 0
    private var listener: Int32 = -1
    private let state = Mutex(State())

    init(upstream: String) throws {
        guard let portText = upstream.split(separator: ":").last, let upstreamPort = UInt16(portText.filter(\.isNumber)) else {
            throw ProxyError.setup("no port in \(upstream)")
        }
        self.upstreamPort = upstreamPort
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw ProxyError.setup("socket") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else { throw ProxyError.setup("bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// `http://127.0.0.1:PORT`
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Applies `fault` to the first request matching `when` after skipping `skip` matching ones.
    func inject(_ fault: Fault, skip: Int = 0, when matches: @escaping @Sendable (RequestHead) -> Bool) {
        state.withLock { $0.rules.append(Rule(matches: matches, skip: skip, fault: fault)) }
    }

    /// Rules not yet used.
    var pendingFaults: Int { state.withLock { $0.rules.count } }
    /// Every request seen: "METHOD target [content-range]".
    var log: [String] { state.withLock { $0.log } }
    /// The faults applied, in order.
    var injected: [String] { state.withLock { $0.injected } }

    func stop() {
        state.withLock { $0.stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if state.withLock({ $0.stopped }) { return }
                continue
            }
            let thread = Thread { [self] in handle(client) }
            thread.start()
        }
    }

    private func handle(_ client: Int32) {
        defer { close(client) }
        guard let (firstHeadBytes, firstBody, head) = readHead(client) else { return }
        var headBytes = firstHeadBytes
        var body = firstBody
        let fault = state.withLock { state -> Fault? in
            state.log.append("\(head.method) \(head.target) \(head.headers["content-range"] ?? "")")
            guard let index = state.rules.firstIndex(where: { $0.matches(head) }) else { return nil }
            if state.rules[index].skip > 0 {
                state.rules[index].skip -= 1
                return nil
            }
            let fault = state.rules.remove(at: index).fault
            state.injected.append("\(fault) on \(head.method) \(head.headers["content-range"] ?? head.target)")
            return fault
        }
        switch fault {
        case .resetMidBody?:
            _ = readBody(client, into: &body, upTo: head.bodyLength / 2)
            reset(client)
            return
        case .status(let code)?:
            _ = readBody(client, into: &body, upTo: head.bodyLength)
            let json = #"{"error":{"code":\#(code),"message":"injected fault","errors":[{"reason":"backendError"}],"status":"UNAVAILABLE"}}"#
            sendAll(client, Array("HTTP/1.1 \(code) Injected\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n\(json)".utf8))
            return
        case .stall(let seconds)?:
            _ = readBody(client, into: &body, upTo: head.bodyLength)
            Thread.sleep(forTimeInterval: seconds)
            return
        case .forwardThenReset?, nil:
            guard readBody(client, into: &body, upTo: head.bodyLength) else { return }
            headBytes = rewriteConnectionHeader(headBytes)
            guard let response = forward(headBytes + body) else { return }
            if case .forwardThenReset? = fault {
                reset(client)
                return
            }
            sendAll(client, rewriteLocation(response))
        }
    }

    /// Reads up to the end of the header block; returns the head, the body bytes read past it, and the parsed head.
    private func readHead(_ fd: Int32) -> ([UInt8], [UInt8], RequestHead)? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let end = data.firstRange(of: [13, 10, 13, 10]) {
                let headBytes = Array(data[..<end.upperBound])
                let lines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                let parts = lines[0].split(separator: " ")
                guard parts.count >= 2 else { return nil }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let head = RequestHead(method: String(parts[0]), target: String(parts[1]), headers: headers,
                                       bodyLength: Int(headers["content-length"] ?? "0") ?? 0)
                return (headBytes, Array(data[end.upperBound...]), head)
            }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    private func readBody(_ fd: Int32, into body: inout [UInt8], upTo length: Int) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while body.count < length {
            let count = recv(fd, &buffer, min(buffer.count, length - body.count), 0)
            if count <= 0 { return false }
            body.append(contentsOf: buffer[0..<count])
        }
        return true
    }

    /// Sends to the upstream with `Connection: close` and reads its answer to the end.
    private func forward(_ request: [UInt8]) -> [UInt8]? {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(upstream) }
        var address = Self.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        sendAll(upstream, request)
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(upstream, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return response
    }

    private func rewriteConnectionHeader(_ head: [UInt8]) -> [UInt8] {
        var lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").filter {
            !$0.lowercased().hasPrefix("connection:")
        }
        // lines ends with two empty strings (the blank line); put the header before them.
        lines.insert("Connection: close", at: max(1, lines.count - 2))
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    /// Session URLs in Location point back at this proxy, so later chunks meet the faults too.
    private func rewriteLocation(_ response: [UInt8]) -> [UInt8] {
        guard let end = response.firstRange(of: [13, 10, 13, 10]) else { return response }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self)
            .replacingOccurrences(of: "127.0.0.1:\(upstreamPort)", with: "127.0.0.1:\(port)")
            .replacingOccurrences(of: "localhost:\(upstreamPort)", with: "127.0.0.1:\(port)")
        return Array(head.utf8) + Array(response[end.lowerBound...])
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    /// Closes with SO_LINGER 0: the peer gets a TCP reset.
    private func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    enum ProxyError: Error { case setup(String) }
}
