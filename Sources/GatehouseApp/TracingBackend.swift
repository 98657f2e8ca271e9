import GatehouseCore
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// The OpenTelemetry exporter behind `tracing:` (docs/observability.md "Traces"): spans go in
/// batches over OTLP/HTTP (protobuf) to `endpoint` + `/v1/traces`. A change of the settings
/// replaces the exporter: the old one sends what it holds, then stops. Off: no exporter runs and
/// the data plane's `TracerSwitch` is empty.
final class TracingBackend: Sendable {
    let tracers: TracerSwitch
    private let logger: Logger
    /// The running exporter, if any, and the task running it.
    private let state = Mutex<(group: ServiceGroup?, task: Task<Void, Never>?)>((nil, nil))

    init(tracers: TracerSwitch, logger: Logger) {
        self.tracers = tracers
        self.logger = logger
    }

    /// Puts `settings` in force. Returns false (tracing stays off) when the exporter cannot be made.
    @discardableResult
    func apply(_ settings: TracingSettings) -> Bool {
        var made: (tracer: any Tracer, service: any Service)?
        if settings.enabled {
            do {
                let backend = try OTel.makeTracingBackend(configuration: Self.configuration(settings, logger: logger))
                made = (backend.factory, backend.service)
            } catch {
                logger.error("tracing not started", metadata: ["error": "\(error)", "endpoint": "\(settings.endpoint)"])
            }
        }
        let logger = self.logger
        let group = made.map { ServiceGroup(services: [$0.service], logger: logger) }
        let task = group.map { group in
            Task.detached {
                do { try await group.run() } catch { logger.warning("tracing exporter stopped", metadata: ["error": "\(error)"]) }
            }
        }
        let old = state.withLock { state in
            defer { state = (group, task) }
            return state.group
        }
        tracers.set(made.map { TracerSwitch.Active(tracer: $0.tracer, recordSubject: settings.recordSubject) })
        // The old exporter sends what it holds, then stops.
        if let old { Task.detached { await old.triggerGracefulShutdown() } }
        if made != nil {
            logger.notice(
                "tracing on", metadata: ["endpoint": "\(settings.tracesURL)", "sample_ratio": "\(settings.sampleRatio)", "service_name": "\(settings.serviceName)"])
        } else if old != nil {
            logger.notice("tracing off")
        }
        return made != nil || !settings.enabled
    }

    /// How long a stop waits for the exporter to send the spans it holds: a collector that is
    /// down must not hold up a shutdown.
    static let flushGrace: Duration = .seconds(2)

    /// Stops the exporter once it has sent the spans it holds, or after `flushGrace`.
    func shutdown() async {
        tracers.set(nil)
        let (group, task) = state.withLock { state in
            defer { state = (nil, nil) }
            return state
        }
        await group?.triggerGracefulShutdown()
        guard let task else { return }
        let flushed = await withTaskGroup(of: Bool.self) { waits in
            waits.addTask {
                await task.value
                return true
            }
            waits.addTask {
                try? await Task.sleep(for: Self.flushGrace)
                return false
            }
            let first = await waits.next() ?? false
            waits.cancelAll()
            return first
        }
        if !flushed {
            task.cancel()
            logger.warning("tracing exporter stopped before it could send its last spans")
        }
    }

    static func configuration(_ settings: TracingSettings, logger: Logger) -> OTel.Configuration {
        var config = OTel.Configuration.default
        config.serviceName = settings.serviceName
        // Its warnings (a batch not exported, spans dropped, a caller's trace context refused)
        // can repeat every second: at most one line a minute each.
        var diagnostics = logger
        diagnostics.handler = ThrottledLogHandler(wrapping: logger.handler)
        config.diagnosticLogger = .custom(diagnostics)
        config.diagnosticLogLevel = .warning
        config.propagators = [.traceContext]
        config.metrics.enabled = false
        config.logs.enabled = false
        config.traces.enabled = true
        config.traces.sampler = .parentBasedTraceIDRatio(ratio: settings.sampleRatio) ?? .parentBasedAlwaysOn
        config.traces.exporter = .otlp
        config.traces.otlpExporter.endpoint = settings.tracesURL  // used as given once set
        config.traces.otlpExporter.protocol = .httpProtobuf
        // A collector that does not answer costs a batch after 5 s, not more.
        config.traces.otlpExporter.timeout = .seconds(5)
        config.traces.batchSpanProcessor.exportTimeout = .seconds(5)
        // Sent within a second of ending: a trace shows up while the request is still in mind.
        config.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        return config
    }
}
