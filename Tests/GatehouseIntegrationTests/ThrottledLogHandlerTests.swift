import Logging
import Synchronization
import Testing

@testable import GatehouseApp

/// The tracing exporter's diagnostics go through a throttle: a message repeated at will (a
/// collector that is down, a refused trace context) is logged once per interval, with a count.
@Suite struct ThrottledLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[(String, Logger.Metadata?)]>([])
    }

    struct Capture: LogHandler {
        let into: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { into.lines.withLock { $0.append((event.message.description, event.metadata)) } }
    }

    @Test func aRepeatedMessageIsLoggedOncePerIntervalWithWhatWasLeftOut() async throws {
        let lines = Lines()
        var logger = Logger(label: "test")
        logger.handler = ThrottledLogHandler(wrapping: Capture(into: lines), interval: .milliseconds(200))
        for _ in 0..<50 { logger.warning("Failed to export batch.") }
        logger.warning("Spans were dropped")
        #expect(lines.lines.withLock { $0.map(\.0) } == ["Failed to export batch.", "Spans were dropped"], "each message once")
        // After the interval, the next one goes through, saying how many were left out.
        let passed = await eventually(within: 10) {
            logger.warning("Failed to export batch.")
            return lines.lines.withLock { $0.count } == 3
        }
        #expect(passed)
        let last = try #require(lines.lines.withLock { $0.last })
        #expect(last.0 == "Failed to export batch.")
        #expect(Int(last.1?["not_logged_since_last"]?.description ?? "") ?? 0 >= 49)
    }
}
