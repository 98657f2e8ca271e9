import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a host name into the addresses to try. A role, so tests can point a public-looking
/// name at a loopback server and check that the address policy sees the resolved address.
public protocol HostResolver: Sendable {
    /// Every address for `host`, in the order to try them. Throws when the name does not resolve.
    func resolve(host: String, port: Int) async throws -> [SocketAddress]
}

/// The system resolver (`getaddrinfo`), run on NIO's blocking-I/O thread pool.
public struct SystemHostResolver: HostResolver {
    public init() {}

    public func resolve(host: String, port: Int) async throws -> [SocketAddress] {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return [literal] }
        return try await NIOThreadPool.singleton.runIfActive { try Self.lookup(host: host, port: port) }
    }

    struct ResolutionError: Error, CustomStringConvertible {
        let host: String
        let code: Int32
        var description: String { "cannot resolve \(host) (getaddrinfo \(code))" }
    }

    static func lookup(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw ResolutionError(host: host, code: rc) }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            defer { cursor = info.pointee.ai_next }
            guard let raw = info.pointee.ai_addr else { continue }
            let address: SocketAddress?
            switch info.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            default:
                address = nil
            }
            if let address, !out.contains(address) { out.append(address) }
        }
        guard !out.isEmpty else { throw ResolutionError(host: host, code: 0) }
        return out
    }
}
