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
    private var pending: ByteBuffer
    private var flushScheduled = false
    private let flushBytes = 32 * 1024
    /// `YYYY-MM-DDTHH:MM:SS` of `cachedSecond`: one `gmtime_r` and formatting per second.
    private var cachedSecond: Int64 = .min
    private var cachedPrefix = ""
    /// Runs with every flush (the loop's counters are folded into the registry at the same time).
    var onFlush: (() -> Void)?

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        pending = ByteBufferAllocator().buffer(capacity: flushBytes + 1024)
    }

    func append(_ line: String) {
        pending.writeString(line)
        written()
    }

    /// Appends one line written by `body` straight into the batch.
    func appendLine(_ body: (inout ByteBuffer) -> Void) {
        body(&pending)
        written()
    }

    /// Asks for a flush at the end of this loop iteration (for counters, when no line was written).
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.assumeIsolated().execute { self.flush() }
    }

    private func written() {
        if pending.readableBytes >= flushBytes {
            flush()
        } else {
            scheduleFlush()
        }
    }

    func flush() {
        flushScheduled = false
        onFlush?()
        guard pending.readableBytes > 0 else { return }
        pending.withUnsafeReadableBytes { LogOutput.write(bytes: $0, toStderr: false) }
        pending.clear()
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

    /// Writes the timestamp of `seconds` as bytes (no allocation after the first of each second).
    func writeTimestamp(_ seconds: Double, into out: inout BoundedWriter) {
        let whole = Int64(seconds.rounded(.down))
        if whole != cachedSecond {
            cachedSecond = whole
            let full = LogTime.iso8601(Double(whole))
            cachedPrefix = String(full.utf8.prefix(19))!
        }
        out.string(cachedPrefix)
        let ms = min(999, max(0, Int((seconds - Double(whole)) * 1000)))
        out.byte(UInt8(ascii: "."))
        out.byte(UInt8(0x30 + ms / 100))
        out.byte(UInt8(0x30 + (ms / 10) % 10))
        out.byte(UInt8(0x30 + ms % 10))
        out.byte(UInt8(ascii: "Z"))
    }
}
