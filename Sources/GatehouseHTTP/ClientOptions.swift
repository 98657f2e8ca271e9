import NIOCore
import NIOSSL

public struct ClientOptions: Sendable {
    /// Everything: resolution, connection, TLS, request and the whole response.
    public var timeout: Duration
    /// For each connection attempt (capped by what is left of `timeout`).
    public var connectTimeout: Duration
    /// A bigger response body fails with `.tooLarge` and the connection is closed.
    public var maxResponseBytes: Int
    /// Asked about every resolved address before connecting to it; `false` refuses it. The
    /// client connects to the very address it asked about (never the name again), so a DNS
    /// answer that changes between check and use cannot slip past (server-side request forgery).
    /// `AddressPolicy.publicOnly` is the policy for URLs that tenants or IdPs name.
    public var addressPolicy: (@Sendable (SocketAddress) -> Bool)?
    /// nil: the system trust store with full certificate and host-name verification.
    public var tlsConfiguration: TLSConfiguration?

    public init(
        timeout: Duration = .seconds(5), connectTimeout: Duration = .seconds(3), maxResponseBytes: Int = 256 * 1024,
        addressPolicy: (@Sendable (SocketAddress) -> Bool)? = nil, tlsConfiguration: TLSConfiguration? = nil
    ) {
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
        self.addressPolicy = addressPolicy
        self.tlsConfiguration = tlsConfiguration
    }
}
