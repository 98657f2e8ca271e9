import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One JSON object per line on stderr: `time`, `level`, `label`, `message`, then metadata.
/// Metadata values are written as strings; callers never put tokens, cookies or query strings in them.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    /// The process-wide level once `setLevel` was called (`log_level` reloaded), else the
    /// handler's own.
    public var logLevel: Logger.Level {
        get {
            let live = Self.liveLevel.load(ordering: .relaxed)
            return live >= 0 ? Logger.Level.allCases[live] : ownLevel
        }
        set { ownLevel = newValue }
    }
    private var ownLevel: Logger.Level
    private let label: String

    /// Index into `Logger.Level.allCases`, or -1.
    private static let liveLevel = Atomic<Int>(-1)

    /// Every handler logs at `level` from now on (a reload of `gatehouse.yaml`).
    public static func setLevel(_ level: Logger.Level) {
        liveLevel.store(Logger.Level.allCases.firstIndex(of: level) ?? -1, ordering: .relaxed)
    }

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.ownLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"time\":"
        JSONValue.writeString(LogTime.iso8601(SystemWallClock.now()), to: &line)
        line += ",\"level\":"
        JSONValue.writeString(event.level.rawValue, to: &line)
        line += ",\"label\":"
        JSONValue.writeString(label, to: &line)
        line += ",\"message\":"
        JSONValue.writeString(event.message.description, to: &line)
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            line += ","
            JSONValue.writeString(key, to: &line)
            line += ":"
            JSONValue.writeString(merged[key]!.description, to: &line)
        }
        line += "}\n"
        LogOutput.write(line, toStderr: true)
    }

    /// Installs the JSON handler for every logger, at `level`.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
    }
}

/// Serialised writes so that concurrent lines never interleave.
public enum LogOutput {
    private static let lock = Mutex(())

    /// Writes bytes already formatted as whole lines.
    public static func write(bytes: UnsafeRawBufferPointer, toStderr: Bool) {
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(toStderr ? 2 : 1, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    public static func write(_ line: String, toStderr: Bool) {
        lock.withLock { _ in
            var l = line
            l.withUTF8 { buf in
                var offset = 0
                while offset < buf.count {
                    let n = Glibc.write(toStderr ? 2 : 1, buf.baseAddress! + offset, buf.count - offset)
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
    }
}

public enum LogTime {
    /// RFC 3339 UTC with milliseconds.
    public static func iso8601(_ seconds: Double) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((seconds - Double(Int64(seconds))) * 1000)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }
}
