import Glibc
@testable import HTTPServer

/// A blocking loopback client for tests; every read is bounded by a receive timeout.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(port: Int, timeoutMilliseconds: Int = 5000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw Failure(description: "connect failed: \(errno)")
        }
    }

    deinit {
        close(fd)
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send failed: \(errno)") }
            offset += sent
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        if count < 0 {
            if errno == ECONNRESET { return false }
            throw Failure(description: "recv failed or timed out: errno \(errno)")
        }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Reads one response (Content-Length framing, or until close). `head` skips the body of a HEAD answer.
    func readResponse(head: Bool = false) throws -> Response {
        var headEnd: Int?
        while true {
            if let found = find([13, 10, 13, 10]) {
                headEnd = found
                break
            }
            guard try fill() else { throw Failure(description: "connection closed before a response head") }
        }
        let headText = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeSubrange(0..<(headEnd! + 4))
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ")[1]) ?? 0
        var headers = HTTPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters())
        }
        if head || status == 304 || status == 204 || status / 100 == 1 {
            return Response(status: status, headers: headers, body: [])
        }
        if let lengthText = headers["Content-Length"], let length = Int(lengthText) {
            while buffer.count < length {
                guard try fill() else { throw Failure(description: "connection closed inside a body") }
            }
            let body = Array(buffer[0..<length])
            buffer.removeSubrange(0..<length)
            return Response(status: status, headers: headers, body: body)
        }
        while try fill() {}
        let body = buffer
        buffer = []
        return Response(status: status, headers: headers, body: body)
    }

    /// Whether the server closed the connection (reads to the end, bounded by the timeout).
    func isClosedByServer() -> Bool {
        do {
            while try fill() {}
            return true
        } catch {
            return false
        }
    }

    /// Bytes received and not yet consumed as a response.
    var unreadBytes: Int { buffer.count }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for index in 0...(buffer.count - pattern.count) where buffer[index] == pattern[0] {
            if buffer[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
        }
        return nil
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(self[...].trimmingASCIISpaces())
    }
}

/// One request on a fresh connection.
func request(_ port: Int, _ text: String, head: Bool = false) throws -> TestClient.Response {
    let client = try TestClient(port: port)
    try client.send(text)
    return try client.readResponse(head: head)
}
