import GatehouseCore
import Tracing

/// A request's spans, when tracing is on (docs/observability.md "Traces"): a server span for the
/// whole exchange and, under it, one for token verification (with the key-set fetch a token
/// waited for under that), one per store call and one for the upstream exchange. Attributes never
/// carry a token, a cookie, a query string, or the caller's `sub` unless the operator opted in.
final class ExchangeTrace {
    let tracer: any Tracer
    let recordSubject: Bool
    let server: any Span
    /// Whether the spans are recorded (sampled); unsampled ones still carry the trace upstream.
    let recording: Bool
    var verify: (any Span)?
    var store: (any Span)?
    var upstream: (any Span)?
    /// The token was found in the event loop's verified-token cache (no `verify token` span).
    var tokenCached = false
    /// The trace id (32 hex digits), for the access line; nil when not sampled.
    let traceID: String?

    init(_ active: TracerSwitch.Active, incoming: TraceContextFields?, method: String) {
        tracer = active.tracer
        recordSubject = active.recordSubject
        var context = ServiceContext.topLevel
        if let incoming { tracer.extract(incoming, into: &context, using: TraceContextFields.Reader()) }
        server = tracer.startAnySpan(method, context: context, ofKind: .server)
        recording = server.isRecording
        if recording {
            var own = TraceContextFields()
            tracer.inject(server.context, into: &own, using: TraceContextFields.Writer())
            traceID = own.traceID.map(String.init)
        } else {
            traceID = nil
        }
    }

    func child(_ name: String, kind: SpanKind) -> any Span {
        tracer.startAnySpan(name, context: server.context, ofKind: kind)
    }

    /// The fields the upstream request carries: the trace continued from the upstream span (or
    /// the server span's context when there is none), with its sampling decision.
    func upstreamFields() -> TraceContextFields {
        var fields = TraceContextFields()
        tracer.inject((upstream ?? server).context, into: &fields, using: TraceContextFields.Writer())
        return fields
    }

    func endVerify(error: String? = nil) { Self.end(&verify, error: error) }

    func endUpstream(error: String? = nil) { Self.end(&upstream, error: error) }

    /// Ends `span` (when open), as failed with `error.type` when `error` is given.
    static func end(_ span: inout (any Span)?, error: String? = nil) {
        guard let s = span else { return }
        end(s, error: error)
        span = nil
    }

    static func end(_ span: any Span, error: String? = nil) {
        if let error {
            span.attributes["error.type"] = error
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }

    // MARK: - What a caller sent

    /// The caller's trace-context fields, when they are well-formed (W3C Trace Context level 1):
    /// anything else starts a new trace, as if none had been sent.
    static func incoming(_ head: RequestHead) -> TraceContextFields? {
        var fields = TraceContextFields()
        var parents = 0
        var stateBytes = 0
        var states: [String] = []
        for f in head.fields {
            switch f.kind {
            case .traceparent:
                parents += 1
                fields.traceparent = head.value(f)
            case .tracestate:
                let value = head.value(f)
                stateBytes += value.utf8.count
                states.append(value)
            default:
                continue
            }
        }
        guard parents == 1, let parent = fields.traceparent, isValidTraceparent(parent) else { return nil }
        if !states.isEmpty, stateBytes <= 512 {
            let joined = states.joined(separator: ",")
            if isValidTracestate(joined) { fields.tracestate = joined }
        }
        return fields
    }

    /// `00-<32 hex>-<16 hex>-<2 hex>`, lower case, ids not all zero.
    static func isValidTraceparent(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.count == 55, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "0") else { return false }
        let ok = bytes.withUnsafeBytes { UpstreamHead.isSaneTraceparent($0) }
        guard ok else { return false }
        let zero = UInt8(ascii: "0")
        return bytes[3..<35].contains { $0 != zero } && bytes[36..<52].contains { $0 != zero }
    }

    /// A `tracestate` list: at most 32 members `key=value`, keys `[a-z0-9][a-z0-9_-*/]*` (with
    /// at most one `@`), values printable ASCII without `,` and `=`, not ending in a space.
    static func isValidTracestate(_ value: String) -> Bool {
        var members = 0
        for raw in value.split(separator: ",", omittingEmptySubsequences: false) {
            let member = raw.trimmingSpacesAndTabs()
            if member.isEmpty { continue }
            members += 1
            guard members <= 32, let eq = member.firstIndex(of: "=") else { return false }
            let key = member[..<eq].utf8
            let val = member[member.index(after: eq)...].utf8
            guard (1...256).contains(key.count), (1...256).contains(val.count) else { return false }
            var ats = 0
            for (i, b) in key.enumerated() {
                let lowerOrDigit = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
                if i == 0 { guard lowerOrDigit else { return false }; continue }
                if b == UInt8(ascii: "@") { ats += 1; continue }
                guard lowerOrDigit || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: "*") || b == UInt8(ascii: "/") else {
                    return false
                }
            }
            guard ats <= 1, val.last != 0x20 else { return false }
            for b in val where b < 0x20 || b > 0x7E || b == UInt8(ascii: ",") || b == UInt8(ascii: "=") { return false }
        }
        return true
    }
}

extension Substring {
    fileprivate func trimmingSpacesAndTabs() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
