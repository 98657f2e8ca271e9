import GatehouseCore
import Logging
import Synchronization

/// A log handler that passes on at most one line per message per `interval`, adding how many
/// were left out (`not_logged_since_last`). For a library's diagnostics that hostile input or a
/// collector that is down can repeat at will (the tracing exporter's): the log says it once a
/// minute, not once a request.
struct ThrottledLogHandler: LogHandler {
    final class Throttles: Sendable {
        let interval: Duration
        let byMessage = Mutex<[String: LogThrottle]>([:])
        init(interval: Duration) { self.interval = interval }
    }

    /// Distinct messages tracked; past that, lines go through unthrottled (a library has a few).
    static let maxMessages = 256

    private var inner: any LogHandler
    private let throttles: Throttles

    init(wrapping inner: any LogHandler, interval: Duration = .seconds(60)) {
        self.inner = inner
        self.throttles = Throttles(interval: interval)
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        let message = event.message.description
        let interval = throttles.interval
        let skipped: Int? = throttles.byMessage.withLock { table in
            if table[message] == nil, table.count >= Self.maxMessages { return 0 }
            var throttle = table[message] ?? LogThrottle(interval: interval)
            defer { table[message] = throttle }
            return throttle.admit()
        }
        guard let skipped else { return }
        var event = event
        if skipped > 0 {
            var metadata = event.metadata ?? [:]
            metadata["not_logged_since_last"] = "\(skipped)"
            event.metadata = metadata
        }
        inner.log(event: event)
    }
}
