import GatehouseCore
import NIOEmbedded
import Testing

@testable import GatehouseApp
@testable import GatehouseProxy

/// Small per-process and per-loop pieces of the data plane's set-up.
@Suite struct LoopResourcesTests {
    @Test func theAffinityMaskIsCountedFromProcStatus() {
        #expect(UsableCPUs.affinityCount(status: "Name:\tgatehouse\nCpus_allowed:\t2\nCpus_allowed_list:\t1\n") == 1)
        #expect(UsableCPUs.affinityCount(status: "Cpus_allowed:\tff\n") == 8)
        #expect(UsableCPUs.affinityCount(status: "Cpus_allowed:\tffffffff,ffffffff,00000000,0000000f\n") == 68)
        #expect(UsableCPUs.affinityCount(status: "Cpus_allowed:\t0\n") == nil, "no CPU: fall back to the core count")
        #expect(UsableCPUs.affinityCount(status: "Cpus_allowed:\tzz\n") == nil)
        #expect(UsableCPUs.affinityCount(status: "Name:\tx\n") == nil)
        #expect(UsableCPUs.count >= 1)
        if let here = UsableCPUs.affinityCount() { #expect(UsableCPUs.count <= here) }
    }

    @Test func theBatchedAccessLogTimestampIsTheLoggersFormat() {
        let buffer = AccessLogBuffer(eventLoop: EmbeddedEventLoop())
        for t in [1_800_000_000.0, 1_800_000_000.0005, 1_800_000_000.999, 1_800_000_001.25, 1_800_000_059.5, 1_800_086_399.999] {
            #expect(buffer.timestamp(t) == LogTime.iso8601(t), "\(t)")
        }
    }
}
