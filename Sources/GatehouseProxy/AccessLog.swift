import GatehouseCore
import GatehouseSessions

/// One JSON line per request on stdout (DESIGN 10). Paths are logged without their query;
/// tokens, cookies and query strings never reach this line.
struct AccessLog: Sendable {
    let enabled: Bool

    struct Entry {
        var requestID: String
        var tenant: String?
        var method: String
        var uri: String
        var status: Int
        var durationSeconds: Double
        var upstream: String?
        var bytesIn: Int
        var bytesOut: Int
        var reason: String?
        var subject: String?
    }

    /// Writes the line through `buffer` (the event loop's batch) when there is one.
    func write(_ e: Entry, buffer: AccessLogBuffer? = nil) {
        guard enabled else { return }
        let now = SystemWallClock.now()
        var line = "{\"time\":"
        line.reserveCapacity(320)
        JSONValue.writeString(buffer?.timestamp(now) ?? LogTime.iso8601(now), to: &line)
        line += ",\"type\":\"access\",\"request_id\":"
        JSONValue.writeString(e.requestID, to: &line)
        line += ",\"tenant\":"
        if let t = e.tenant { JSONValue.writeString(t, to: &line) } else { line += "null" }
        line += ",\"method\":"
        JSONValue.writeString(e.method, to: &line)
        line += ",\"path\":"
        JSONValue.writeString(AccessLog.pathWithoutQuery(e.uri), to: &line)
        let micros = max(0, Int((e.durationSeconds * 1_000_000).rounded()))
        let fraction = String(micros % 1000)
        line += ",\"status\":\(e.status),\"duration_ms\":\(micros / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
        line += ",\"upstream\":"
        if let u = e.upstream { JSONValue.writeString(u, to: &line) } else { line += "null" }
        line += ",\"bytes_in\":\(e.bytesIn),\"bytes_out\":\(e.bytesOut)"
        if let r = e.reason {
            line += ",\"reason\":"
            JSONValue.writeString(r, to: &line)
        }
        if let s = e.subject {
            line += ",\"sub\":"
            JSONValue.writeString(s, to: &line)
        }
        line += "}\n"
        if let buffer {
            buffer.append(line)
        } else {
            LogOutput.write(line, toStderr: false)
        }
    }

    static func pathWithoutQuery(_ uri: String) -> String {
        var path = uri
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
        // A flow's start handle is a bearer secret (it mints that flow's browser cookie).
        if path.hasPrefix(OAuthFlows.startPath) { path = OAuthFlows.startPath + "<redacted>" }
        if path.utf8.count > 2048 { path = String(path.utf8.prefix(2048)) ?? "" }
        return path
    }
}
