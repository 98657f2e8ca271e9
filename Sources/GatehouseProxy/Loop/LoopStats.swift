import GatehouseCore

/// The data plane's counters for one event loop, kept in plain dictionaries (no lock, no label
/// arrays per request) and folded into the shared Prometheus registry once per loop iteration,
/// by `LoopFlush`. A scrape therefore sees every request finished before the loop last turned.
final class LoopStats {
    private struct RequestKey: Hashable {
        var tenant: ObjectIdentifier?
        var status: Int
    }

    private struct Count {
        var label: String
        var status: Int
        var n: Double
    }

    private struct Latency {
        var label: String
        var counts: [UInt64]
        var sum: Double
        var n: UInt64
    }

    private let metrics: GatehouseMetrics
    private var requests: [RequestKey: Count] = [:]
    private var latency: [ObjectIdentifier: Latency] = [:]
    private var cacheHits = 0.0
    private var cacheMisses = 0.0
    private let bounds: [Double]

    init(metrics: GatehouseMetrics) {
        self.metrics = metrics
        self.bounds = metrics.upstreamLatency.bucketBounds
    }

    var isDirty: Bool { !requests.isEmpty || !latency.isEmpty || cacheHits != 0 || cacheMisses != 0 }

    func request(tenant: CompiledTenant?, status: Int) {
        let key = RequestKey(tenant: tenant.map(ObjectIdentifier.init), status: status)
        if var c = requests[key] {
            c.n += 1
            requests[key] = c
        } else {
            requests[key] = Count(label: tenant?.tenant.id.rawValue ?? "-", status: status, n: 1)
        }
    }

    func upstreamLatency(tenant: CompiledTenant, seconds: Double) {
        let key = ObjectIdentifier(tenant)
        var l = latency[key] ?? Latency(label: tenant.tenant.id.rawValue, counts: [UInt64](repeating: 0, count: bounds.count + 1), sum: 0, n: 0)
        var i = 0
        while i < bounds.count, seconds > bounds[i] { i += 1 }
        l.counts[i] += 1
        l.sum += seconds
        l.n += 1
        latency[key] = l
    }

    func tokenCache(hit: Bool) {
        if hit { cacheHits += 1 } else { cacheMisses += 1 }
    }

    /// Adds everything counted since the last flush to the registry.
    func flush() {
        for (_, c) in requests { metrics.requests.increment([c.label, String(c.status)], by: c.n) }
        requests.removeAll(keepingCapacity: true)
        for (_, l) in latency { metrics.upstreamLatency.merge([l.label], counts: l.counts, sum: l.sum, count: l.n) }
        latency.removeAll(keepingCapacity: true)
        if cacheHits != 0 { metrics.tokenCache.increment(["hit"], by: cacheHits) }
        if cacheMisses != 0 { metrics.tokenCache.increment(["miss"], by: cacheMisses) }
        cacheHits = 0
        cacheMisses = 0
    }
}
