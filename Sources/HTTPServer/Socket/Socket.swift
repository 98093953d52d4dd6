import CSystemLinux
import Glibc

/// Errors while setting the server up (binding, listening, loading static files), before any HTTP is spoken.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    /// Stable machine code, e.g. "bind_failed" or "static_root_unreadable".
    public var code: String
    /// Human-readable explanation, with the errno text.
    public var message: String

    init(_ code: String, _ what: String, errno number: Int32 = errno) {
        self.code = code
        self.message = "\(what): \(String(cString: strerror(number)))"
    }

    public var description: String { "\(code): \(message)" }
}

/// Thin wrappers over the POSIX socket calls the server needs.
enum Socket {
    /// A non-blocking IPv4 TCP listener, bound with SO_REUSEPORT (unless `reusePort` is false)
    /// so that each loop can have its own.
    static func listen(host: String, port: Int, backlog: Int32 = 1024, reusePort: Bool = true) throws(HTTPServerError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError("socket_failed", "socket()") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let parsed = host.withCString { inet_pton(AF_INET, $0, &address.sin_addr) }
        guard parsed == 1 else {
            close(fd)
            throw HTTPServerError("bad_address", "'\(host)' is not an IPv4 address", errno: EINVAL)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let number = errno
            close(fd)
            throw HTTPServerError("bind_failed", "bind \(host):\(port)", errno: number)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let number = errno
            close(fd)
            throw HTTPServerError("listen_failed", "listen \(host):\(port)", errno: number)
        }
        return fd
    }

    /// Throws `bind_failed` (EADDRINUSE) when anything listens on `host:port` already — another
    /// server's SO_REUSEPORT listeners included, which our own would otherwise silently join.
    static func ensureFree(host: String, port: Int) throws(HTTPServerError) {
        let probe = try listen(host: host, port: port, backlog: 1, reusePort: false)
        close(probe)
    }

    /// The local port a socket is bound to.
    static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts one connection as non-blocking and close-on-exec, with TCP_NODELAY; nil when none is pending.
    /// Also gives the peer's IPv4 address (host byte order).
    static func accept(_ listener: Int32) -> (fd: Int32, peer: UInt32)? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                accept4(listener, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
        }
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return (fd, UInt32(bigEndian: address.sin_addr.s_addr))
    }
}

/// An epoll instance with an eventfd that other threads write to wake it.
struct Poller {
    let epollFD: Int32
    let wakeFD: Int32

    init() throws(HTTPServerError) {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw HTTPServerError("epoll_failed", "epoll_create1()") }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            Glibc.close(epollFD)
            throw HTTPServerError("eventfd_failed", "eventfd()")
        }
        add(wakeFD, events: EPOLLIN.rawValue)
    }

    func add(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }

    func modify(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    func remove(_ fd: Int32) {
        epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    }

    /// Wakes the thread blocked in epoll_wait (safe from any thread).
    static func wake(_ wakeFD: Int32) {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Clears the wake counter.
    func drainWake() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
    }

    func close() {
        Glibc.close(wakeFD)
        Glibc.close(epollFD)
    }
}
