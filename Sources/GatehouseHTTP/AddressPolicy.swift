import NIOCore

/// Which addresses Gatehouse may connect to when it fetches a URL someone else named, such as an
/// IdP's discovery document or key set (docs/admin-api.md "Request-forgery guard", server-side request forgery): public unicast
/// only. Give `publicOnly` as `ClientOptions.addressPolicy`; the client asks it about every address
/// it is about to connect to, so a name that resolves inside the network is refused however it
/// is spelt (`localhost.example`, `2130706433`, a DNS answer that changes between two lookups).
public enum AddressPolicy {
    public static let publicOnly: @Sendable (SocketAddress) -> Bool = { isPublic($0) }

    /// False for loopback, private, link-local, CGNAT, multicast, unspecified, reserved,
    /// benchmarking and documentation ranges, for the IPv6 forms that carry such an IPv4 address
    /// (IPv4-mapped, IPv4-compatible, NAT64, 6to4), for IPv6 outside global unicast, and for Unix sockets.
    public static func isPublic(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let a): return isPublicV4(withUnsafeBytes(of: a.address.sin_addr) { Array($0) })
        case .v6(let a): return isPublicV6(withUnsafeBytes(of: a.address.sin6_addr) { Array($0) })
        case .unixDomainSocket: return false
        }
    }

    /// `b`: the four bytes in network order.
    static func isPublicV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1], b[2]) {
        case (0, _, _), (10, _, _), (127, _, _): return false  // "this network", private, loopback
        case (100, 64...127, _): return false  // CGNAT
        case (169, 254, _): return false  // link-local, cloud metadata services
        case (172, 16...31, _), (192, 168, _): return false  // private
        case (192, 0, 0), (192, 0, 2), (198, 51, 100), (203, 0, 113): return false  // IETF assignments, documentation
        case (198, 18...19, _): return false  // benchmarking
        case (224...255, _, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    /// `b`: the sixteen bytes in network order.
    static func isPublicV6(_ b: [UInt8]) -> Bool {
        let embeddedV4 = Array(b[12..<16])
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xFF, b[11] == 0xFF { return isPublicV4(embeddedV4) }  // ::ffff:a.b.c.d
        if b[0..<12].elementsEqual([0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) { return isPublicV4(embeddedV4) }  // 64:ff9b::/96 NAT64
        // Only 2000::/3 is global unicast: this refuses ::, ::1, ::a.b.c.d, fc00::/7, fe80::/10, ff00::/8 and the rest.
        guard b[0] & 0xE0 == 0x20 else { return false }
        switch (b[0], b[1], b[2], b[3]) {
        case (0x20, 0x02, _, _): return isPublicV4(Array(b[2..<6]))  // 6to4 carries the IPv4 address next
        case (0x20, 0x01, 0x00, 0x00): return false  // Teredo: an obfuscated IPv4 address, never an IdP's
        case (0x20, 0x01, 0x0D, 0xB8), (0x3F, 0xFF, 0x00...0x0F, _): return false  // documentation
        default: return true
        }
    }
}
