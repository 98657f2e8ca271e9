import GatehouseHTTP
import NIOCore
import NIOPosix
import Testing

@Suite("Address policy (README, For tenant admins)")
struct AddressPolicyTests {
    @Test("internal addresses, and IPv6 forms that lead to one, are refused", arguments: [
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "127.0.0.1", "127.255.255.254", "100.64.0.1", "100.127.255.255",
        "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.168.1.1", "192.0.0.8", "192.0.2.1", "198.18.0.1",
        "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "::", "::1", "::127.0.0.1", "::8.8.8.8", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
        "2002:c0a8:101::1", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "ff0e::1", "100::1",
        "2001:db8::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "3fff::1",
    ])
    func refused(_ ip: String) throws {
        #expect(!AddressPolicy.isPublic(try SocketAddress(ipAddress: ip, port: 443)))
    }

    @Test("public addresses are allowed", arguments: [
        "1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "169.253.0.1", "172.15.255.255", "172.32.0.1",
        "192.167.1.1", "192.0.1.1", "198.17.255.255", "198.20.0.1", "223.255.255.254", "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2001:4860::8888",
    ])
    func allowed(_ ip: String) throws {
        #expect(AddressPolicy.isPublic(try SocketAddress(ipAddress: ip, port: 443)))
    }

    @Test("a Unix socket is never public")
    func unixSocket() throws {
        #expect(!AddressPolicy.isPublic(try SocketAddress(unixDomainSocketPath: "/tmp/gatehouse-idp.sock")))
    }

    @Test("as the client's policy: a public-looking name that resolves to loopback is never connected to")
    func guardsTheClient() async throws {
        let client = HTTPClient(group: MultiThreadedEventLoopGroup.singleton, resolver: LoopbackResolver())
        try await withServer(handler: { _ in .text("internal") }) { server in
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.get(
                    url: "http://idp.example.com:\(server.port)/jwks", options: ClientOptions(addressPolicy: AddressPolicy.publicOnly))
            }
            #expect(error?.code == .refusedAddress)
            #expect(server.acceptedConnections == 0)
        }
    }
}
