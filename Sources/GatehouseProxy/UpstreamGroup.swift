import GatehouseCore
import Synchronization

/// One upstream instance with its passive health: after a failure it sits out for a while.
/// Health is two atomics, written only when it changes: a healthy instance answering costs
/// two relaxed loads per request, no lock.
public final class UpstreamInstance: Sendable {
    public let upstream: Upstream
    /// `host:port`, for logs (computed once).
    let name: String
    /// The `Host` value for this upstream (computed once).
    let hostHeader: String
    /// Monotonic seconds (as bits) until which the instance is considered unhealthy.
    private let downUntil = Atomic<UInt64>(0)
    private let consecutiveFailures = Atomic<Int>(0)

    init(upstream: Upstream) {
        self.upstream = upstream
        self.name = upstream.description
        self.hostHeader = upstream.hostHeader
    }

    func isHealthy(now: Double) -> Bool { Double(bitPattern: downUntil.load(ordering: .relaxed)) <= now }

    /// A connect failure or a broken exchange: back off 1 s, 2 s, 4 s … up to 30 s.
    func recordFailure(now: Double) {
        let failures = consecutiveFailures.wrappingAdd(1, ordering: .relaxed).newValue
        let backoff = min(30.0, Double(1 << min(failures - 1, 5)))
        downUntil.store((now + backoff).bitPattern, ordering: .relaxed)
    }

    func recordSuccess() {
        if consecutiveFailures.load(ordering: .relaxed) != 0 { consecutiveFailures.store(0, ordering: .relaxed) }
        if downUntil.load(ordering: .relaxed) != 0 { downUntil.store(0, ordering: .relaxed) }
    }
}

/// A tenant's instances, picked round robin among the healthy ones.
public final class UpstreamGroup: Sendable {
    public let instances: [UpstreamInstance]
    private let next = Atomic<Int>(0)

    init(instances: [UpstreamInstance]) {
        self.instances = instances
    }

    /// Instances in the order they should be tried for one request: healthy ones first
    /// (starting at the round-robin cursor), then the ones sitting out, as a last resort.
    func attemptOrder(now: Double) -> [UpstreamInstance] {
        let count = instances.count
        if count == 1 { return instances }
        let start = next.wrappingAdd(1, ordering: .relaxed).oldValue
        var healthy: [UpstreamInstance] = []
        var sick: [UpstreamInstance] = []
        healthy.reserveCapacity(count)
        for i in 0..<count {
            let instance = instances[Int(UInt(bitPattern: start &+ i) % UInt(count))]
            if instance.isHealthy(now: now) { healthy.append(instance) } else { sick.append(instance) }
        }
        return healthy + sick
    }

    func instance(for upstream: Upstream) -> UpstreamInstance? {
        instances.first { $0.upstream == upstream }
    }
}
