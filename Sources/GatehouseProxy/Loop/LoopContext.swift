import GatehouseCore
import NIOCore
import NIOSSL

/// Everything the data plane keeps per event loop, so that a request touches no lock and no
/// other thread's memory on its way: the upstream pool, the access-log batch and counters, the
/// request-id generator, the verified-token cache of the loop, and the configuration (re-read
/// only when its generation changes). Touched only on its own loop.
final class LoopContext: @unchecked Sendable {
    // @unchecked: every member is used only on `eventLoop` (the handlers that hold a context run
    // there); the channel initializers that capture it run there too.
    let eventLoop: EventLoop
    let runtime: ProxyRuntime
    let pool: LinkPool
    let log: AccessLogBuffer
    let stats: LoopStats
    let tokens: LoopTokenCache
    var ids = RequestIDGenerator()
    private var config: CompiledConfig
    private var generation: Int

    init(eventLoop: EventLoop, runtime: ProxyRuntime, tls: NIOSSLContext?) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.pool = LinkPool(eventLoop: eventLoop, tls: tls)
        self.log = AccessLogBuffer(eventLoop: eventLoop)
        self.stats = LoopStats(metrics: runtime.metrics)
        self.tokens = LoopTokenCache(capacity: 1024)
        (config, generation) = runtime.configWithGeneration()
        let stats = self.stats
        log.onFlush = { stats.flush() }
    }

    /// The configuration in force (one relaxed atomic load when it did not change).
    func currentConfig() -> CompiledConfig {
        if runtime.configGeneration.load(ordering: .acquiring) != generation {
            (config, generation) = runtime.configWithGeneration()
        }
        return config
    }

    var configGeneration: Int { generation }

    /// Counters changed: fold them into the registry when the loop turns.
    func countersChanged() { log.scheduleFlush() }
}

/// The contexts of every loop of the server's group, built once at start.
final class LoopContexts: @unchecked Sendable {
    // @unchecked: the dictionary is immutable after init, and each context is only used on its
    // own event loop.
    private let contexts: [ObjectIdentifier: LoopContext]

    init(group: EventLoopGroup, runtime: ProxyRuntime, tls: NIOSSLContext?) {
        var contexts: [ObjectIdentifier: LoopContext] = [:]
        for loop in group.makeIterator() {
            contexts[ObjectIdentifier(loop)] = LoopContext(eventLoop: loop, runtime: runtime, tls: tls)
        }
        self.contexts = contexts
    }

    func context(for loop: EventLoop) -> LoopContext? { contexts[ObjectIdentifier(loop)] }

    var all: [LoopContext] { Array(contexts.values) }
}
