import GatehouseCore
import Testing
@testable import GatehouseProxy

/// Which caller trace-context fields Gatehouse continues (W3C Trace Context level 1); anything
/// else starts a trace of its own.
@Suite struct TraceContextTests {
    static let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    private func incoming(_ fields: [(String, String)]) throws -> TraceContextFields? {
        let lines = fields.map { "\($0.0): \($0.1)\r\n" }.joined()
        return ExchangeTrace.incoming(try RequestHeadParserTests.head("GET / HTTP/1.1\r\nHost: a\r\n\(lines)\r\n"))
    }

    @Test func aWellFormedParentAndStateAreTaken() throws {
        let fields = try #require(try incoming([("traceparent", Self.parent), ("tracestate", "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")]))
        #expect(fields.traceparent == Self.parent)
        #expect(fields.tracestate == "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
        #expect(fields.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        let split = try #require(try incoming([("traceparent", Self.parent), ("tracestate", "a=1"), ("tracestate", "b=2")]))
        #expect(split.tracestate == "a=1,b=2", "several tracestate fields are one list")
        let tenantKey = try #require(try incoming([("traceparent", Self.parent), ("tracestate", "t1@vendor=x")]))
        #expect(tenantKey.tracestate == "t1@vendor=x")
    }

    @Test func malformedParentsAreIgnored() throws {
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // a version this level does not know
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "",
        ] {
            #expect(try incoming([("traceparent", bad)]) == nil, "\(bad)")
        }
        #expect(try incoming([("traceparent", Self.parent), ("traceparent", Self.parent)]) == nil, "two parents: neither is believed")
        #expect(try incoming([("tracestate", "a=1")]) == nil)
    }

    @Test func aMalformedStateIsDroppedButTheParentKept() throws {
        for bad in ["A=1", "a", "a=", "=1", "a=1=2", "a@b@c=1", String(repeating: "k=v,", count: 33)] {
            let fields = try #require(try incoming([("traceparent", Self.parent), ("tracestate", bad)]), "\(bad)")
            #expect(fields.tracestate == nil, "\(bad)")
            #expect(fields.traceparent == Self.parent)
        }
        let long = "a=" + String(repeating: "x", count: 255) + ",b=" + String(repeating: "y", count: 255)
        #expect(try incoming([("traceparent", Self.parent), ("tracestate", long)])?.tracestate == nil, "over 512 bytes")
    }
}
