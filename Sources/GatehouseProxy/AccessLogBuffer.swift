import GatehouseCore
import NIOCore

/// The access-log lines of one event loop, written with one `write` per loop iteration (or
/// per 32 KB) instead of one per request: under load, one system call carries the lines of
/// every request that loop finished meanwhile. Touched only from its own loop.
///
/// A line reaches stdout at the latest when the loop has handled the I/O events it was woken
/// for — microseconds, not a timer — so a crash loses at most the lines of that iteration.
final class AccessLogBuffer {
    private let eventLoop: EventLoop
    private var pending = ""
    private var flushScheduled = false
    private let flushBytes = 32 * 1024
    /// `YYYY-MM-DDTHH:MM:SS` of `cachedSecond`: one `gmtime_r` and formatting per second.
    private var cachedSecond: Int64 = .min
    private var cachedPrefix = ""

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        pending.reserveCapacity(flushBytes + 1024)
    }

    func append(_ line: String) {
        pending += line
        if pending.utf8.count >= flushBytes {
            flush()
        } else if !flushScheduled {
            flushScheduled = true
            eventLoop.assumeIsolated().execute { self.flush() }
        }
    }

    func flush() {
        flushScheduled = false
        guard !pending.isEmpty else { return }
        LogOutput.write(pending, toStderr: false)
        pending.removeAll(keepingCapacity: true)
    }

    /// RFC 3339 UTC with milliseconds, like `LogTime.iso8601`.
    func timestamp(_ seconds: Double) -> String {
        let whole = Int64(seconds.rounded(.down))
        if whole != cachedSecond {
            cachedSecond = whole
            let full = LogTime.iso8601(Double(whole))
            cachedPrefix = String(full.utf8.prefix(19))!
        }
        let ms = min(999, max(0, Int((seconds - Double(whole)) * 1000)))
        let digits = String(ms)
        return cachedPrefix + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}
