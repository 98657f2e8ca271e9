import Synchronization

/// A small Prometheus registry: labelled counters, gauges and histograms, rendered in the
/// text exposition format. Label values are escaped; families are registered once at start-up.
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[any MetricFamily]>([])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> Counter {
        let c = Counter(name: name, help: help, labels: labels)
        families.withLock { $0.append(c) }
        return c
    }

    public func gauge(_ name: String, help: String, labels: [String] = []) -> Gauge {
        let g = Gauge(name: name, help: help, labels: labels)
        families.withLock { $0.append(g) }
        return g
    }

    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double]) -> Histogram {
        let h = Histogram(name: name, help: help, labels: labels, buckets: buckets.sorted())
        families.withLock { $0.append(h) }
        return h
    }

    /// The whole registry in Prometheus text format 0.0.4.
    public func render() -> String {
        var out = ""
        for family in families.withLock({ $0 }) { family.render(into: &out) }
        return out
    }

    static func labelText(_ names: [String], _ values: [String], extra: String? = nil) -> String {
        var parts: [String] = []
        for (n, v) in zip(names, values) { parts.append("\(n)=\"\(escape(v))\"") }
        if let extra { parts.append(extra) }
        return parts.isEmpty ? "" : "{" + parts.joined(separator: ",") + "}"
    }

    static func escape(_ v: String) -> String {
        var out = ""
        for c in v.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func format(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }
}

protocol MetricFamily: Sendable {
    func render(into out: inout String)
}

public final class Counter: MetricFamily {
    let name: String, help: String, labels: [String]
    private let values = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, labels: [String]) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    public func increment(_ labelValues: [String] = [], by amount: Double = 1) {
        values.withLock { $0[labelValues, default: 0] += amount }
    }

    public func value(_ labelValues: [String] = []) -> Double { values.withLock { $0[labelValues] ?? 0 } }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (lv, v) in values.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out += "\(name)\(MetricsRegistry.labelText(labels, lv)) \(MetricsRegistry.format(v))\n"
        }
    }
}

public final class Gauge: MetricFamily {
    let name: String, help: String, labels: [String]
    private let values = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, labels: [String]) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    public func set(_ labelValues: [String] = [], _ value: Double) { values.withLock { $0[labelValues] = value } }
    public func add(_ labelValues: [String] = [], _ delta: Double) { values.withLock { $0[labelValues, default: 0] += delta } }
    public func value(_ labelValues: [String] = []) -> Double { values.withLock { $0[labelValues] ?? 0 } }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (lv, v) in values.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out += "\(name)\(MetricsRegistry.labelText(labels, lv)) \(MetricsRegistry.format(v))\n"
        }
    }
}

public final class Histogram: MetricFamily {
    struct Series {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    let name: String, help: String, labels: [String], buckets: [Double]
    private let series = Mutex<[[String]: Series]>([:])

    init(name: String, help: String, labels: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.labels = labels
        self.buckets = buckets
    }

    public func observe(_ labelValues: [String] = [], _ value: Double) {
        let index = buckets.firstIndex(where: { value <= $0 }) ?? buckets.count
        series.withLock { all in
            var s = all[labelValues] ?? Series(counts: [UInt64](repeating: 0, count: buckets.count + 1))
            s.counts[index] += 1
            s.sum += value
            s.count += 1
            all[labelValues] = s
        }
    }

    /// The upper bounds of the buckets, in order.
    public var bucketBounds: [Double] { buckets }

    /// Adds observations counted elsewhere (`counts` per bucket, the last one past every bound).
    public func merge(_ labelValues: [String], counts: [UInt64], sum: Double, count: UInt64) {
        guard counts.count == buckets.count + 1 else { return }
        series.withLock { all in
            var s = all[labelValues] ?? Series(counts: [UInt64](repeating: 0, count: buckets.count + 1))
            for i in counts.indices { s.counts[i] += counts[i] }
            s.sum += sum
            s.count += count
            all[labelValues] = s
        }
    }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (lv, s) in series.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            var cumulative: UInt64 = 0
            for (i, bound) in buckets.enumerated() {
                cumulative += s.counts[i]
                out += "\(name)_bucket\(MetricsRegistry.labelText(labels, lv, extra: "le=\"\(MetricsRegistry.format(bound))\"")) \(cumulative)\n"
            }
            cumulative += s.counts[buckets.count]
            out += "\(name)_bucket\(MetricsRegistry.labelText(labels, lv, extra: "le=\"+Inf\"")) \(cumulative)\n"
            out += "\(name)_sum\(MetricsRegistry.labelText(labels, lv)) \(s.sum)\n"
            out += "\(name)_count\(MetricsRegistry.labelText(labels, lv)) \(s.count)\n"
        }
    }
}

/// Gatehouse's metric families (docs/observability.md "Metrics"), registered once.
public struct GatehouseMetrics: Sendable {
    public let registry: MetricsRegistry
    /// labels: tenant, status
    public let requests: Counter
    /// labels: tenant, reason
    public let authFailures: Counter
    /// labels: tenant
    public let upstreamLatency: Histogram
    /// labels: tenant, idp, result (ok | error | refused | not_modified)
    public let jwksFetches: Counter
    /// labels: result (hit | miss)
    public let tokenCache: Counter
    /// labels: tenant
    public let sessionBindings: Gauge
    /// labels: tenant, reason
    public let sessionRejections: Counter
    /// labels: result (ok | error)
    public let configReloads: Counter
    /// labels: tenant, method (a known MCP method, `notification`, `response`, `batch` or `other`),
    /// outcome (allowed | tool_forbidden | insufficient_scope | invalid_request | too_large)
    public let mcpCalls: Counter

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        requests = registry.counter("gatehouse_requests_total", help: "Requests by tenant and status.", labels: ["tenant", "status"])
        authFailures = registry.counter("gatehouse_auth_failures_total", help: "Authentication failures by tenant and reason.", labels: ["tenant", "reason"])
        upstreamLatency = registry.histogram(
            "gatehouse_upstream_latency_seconds", help: "Time from forwarding a request to the upstream's response head.",
            labels: ["tenant"], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
        jwksFetches = registry.counter("gatehouse_jwks_fetches_total", help: "Key-set fetches by IdP and result.", labels: ["tenant", "idp", "result"])
        tokenCache = registry.counter("gatehouse_token_cache_total", help: "Verified-token cache lookups by result.", labels: ["result"])
        sessionBindings = registry.gauge("gatehouse_session_bindings_active", help: "Active session bindings by tenant.", labels: ["tenant"])
        sessionRejections = registry.counter("gatehouse_session_rejections_total", help: "Session-binding rejections by tenant and reason.", labels: ["tenant", "reason"])
        configReloads = registry.counter("gatehouse_config_reloads_total", help: "Configuration reloads by result.", labels: ["result"])
        mcpCalls = registry.counter(
            "gatehouse_mcp_calls_total", help: "MCP requests on MCP-aware tenants by method and policy outcome.", labels: ["tenant", "method", "outcome"])
    }
}
