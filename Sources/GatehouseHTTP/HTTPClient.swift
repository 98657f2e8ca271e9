import GatehouseCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A small, guarded HTTP/1.1 client for documents Gatehouse fetches on its own behalf (IdP
/// discovery and key sets) and for the few POSTs it makes (OAuth completions).
///
/// One request per connection, no redirects (a 3xx is returned as it is), bounded in time and
/// size, and the caller decides which resolved addresses may be connected to.
/// Every failure is thrown as an `HTTPClientError`.
public final class HTTPClient: Sendable {
    private let group: any EventLoopGroup
    private let resolver: any HostResolver
    private let defaultTLSContext = Mutex<NIOSSLContext?>(nil)

    public init(group: any EventLoopGroup, resolver: any HostResolver = SystemHostResolver()) {
        self.group = group
        self.resolver = resolver
    }

    public func get(url: String, headers: HTTPHeaders = [:], options: ClientOptions = ClientOptions()) async throws -> ClientResponse {
        try await send(ClientRequest(method: .GET, url: url, headers: headers), options: options)
    }

    public func send(_ request: ClientRequest, options: ClientOptions = ClientOptions()) async throws -> ClientResponse {
        let deadline = NIODeadline.now() + TimeAmount(options.timeout)
        guard let url = ParsedURL(request.url), url.scheme == "http" || url.scheme == "https", !url.hasUserInfo else {
            throw HTTPClientError(.invalidURL, "not an absolute http(s) URL without user info")
        }
        let port = url.effectivePort
        let addresses: [SocketAddress]
        do {
            addresses = try await withDeadline(deadline) { [resolver] in try await resolver.resolve(host: url.host, port: port) }
        } catch let error as HTTPClientError {
            throw error
        } catch {
            throw HTTPClientError(.connectFailed, "cannot resolve \(url.host)")
        }
        let allowed = options.addressPolicy.map { policy in addresses.filter(policy) } ?? addresses
        guard !allowed.isEmpty else {
            throw HTTPClientError(.refusedAddress, "every address of \(url.host) is refused by policy")
        }
        let tls = url.scheme == "https" ? try tlsContext(options) : nil
        let isIPLiteral = (try? SocketAddress(ipAddress: url.host, port: port)) != nil
        let exchange = Exchange(
            url: url, request: request, tls: tls, serverHostname: isIPLiteral ? nil : url.host,
            deadline: deadline, maxResponseBytes: options.maxResponseBytes)

        var lastFailure = "no address"
        for address in allowed {
            let remaining = deadline - .now()
            guard remaining > .zero else { break }
            let connectTimeout = min(TimeAmount(options.connectTimeout), remaining)
            let channel: Exchange.Open
            do {
                channel = try await exchange.connect(to: address, group: group, connectTimeout: connectTimeout)
            } catch {
                lastFailure = "\(address): \(type(of: error))"
                continue
            }
            return try await exchange.run(on: channel, remoteAddress: address)
        }
        if NIODeadline.now() >= deadline {
            throw HTTPClientError(.timeout, "no connection to \(url.host) before the deadline")
        }
        throw HTTPClientError(.connectFailed, "cannot connect to \(url.host) (\(lastFailure))")
    }

    private func tlsContext(_ options: ClientOptions) throws -> NIOSSLContext {
        do {
            if let custom = options.tlsConfiguration { return try NIOSSLContext(configuration: custom) }
            return try defaultTLSContext.withLock { cached in
                if let cached { return cached }
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.minimumTLSVersion = .tlsv12
                let context = try NIOSSLContext(configuration: configuration)
                cached = context
                return context
            }
        } catch {
            throw HTTPClientError(.tlsFailed, "cannot create a TLS context: \(error)")
        }
    }
}
