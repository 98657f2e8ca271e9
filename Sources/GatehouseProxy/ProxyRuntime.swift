import GatehouseCore
import GatehouseIdentity
import GatehouseSessions
import Logging
import Synchronization

/// The data plane's shared, thread-safe state: the current compiled configuration (swapped
/// whole on reload), the authenticator, the assertion signer, metrics and logs.
public final class ProxyRuntime: Sendable {
    private let current: Mutex<CompiledConfig>
    public let authenticator: Authenticator
    public let signer: AssertionSigner?
    public let metrics: GatehouseMetrics
    public let logger: Logger
    /// The session-binding table (docs/sessions-and-oauth.md "Session binding").
    public let sessions: SessionTable
    /// Verified OAuth 3-legged flows (docs/sessions-and-oauth.md "Verified OAuth 3-legged flows").
    public let flows: OAuthFlows
    public let clock: WallClock
    let accessLog: AccessLog
    /// How many replicas share the tenants' limits (set from the store's replica registry).
    public let replicas: ReplicaShare
    /// The tracer requests write spans with, when tracing is on (docs/observability.md "Traces").
    public let tracing: TracerSwitch
    /// Requests between their head and the end of their exchange, on every connection: what a
    /// graceful shutdown waits for.
    let active = Atomic<Int>(0)

    /// Requests in progress.
    public var activeRequests: Int { active.load(ordering: .relaxed) }

    public init(
        snapshot: ConfigSnapshot, authenticator: Authenticator, signer: AssertionSigner?, sessions: SessionTable, flows: OAuthFlows,
        metrics: GatehouseMetrics, logger: Logger, clock: @escaping WallClock = SystemWallClock.now, accessLog: Bool = true,
        tracing: TracerSwitch = TracerSwitch()
    ) {
        self.tracing = tracing
        let replicas = ReplicaShare()
        self.replicas = replicas
        self.current = Mutex(CompiledConfig(snapshot: snapshot, share: replicas))
        self.authenticator = authenticator
        self.signer = signer
        self.sessions = sessions
        self.flows = flows
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        self.accessLog = AccessLog(enabled: accessLog)
    }

    /// The configuration in force. Requests take it once, at their head, and keep it.
    public var config: CompiledConfig { current.withLock { $0 } }

    /// Bumped with every new configuration: event loops keep their own reference to the
    /// configuration and re-read it only when this changed (no lock per request).
    let configGeneration = Atomic<Int>(0)

    /// Swaps in a new snapshot; upstream health and limiter state carry over where unchanged.
    public func apply(_ snapshot: ConfigSnapshot) {
        current.withLock { old in
            old = CompiledConfig(snapshot: snapshot, previous: old, share: replicas)
            configGeneration.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// The configuration and its generation, read together.
    func configWithGeneration() -> (CompiledConfig, Int) {
        current.withLock { ($0, configGeneration.load(ordering: .relaxed)) }
    }
}
