import Tracing

/// W3C trace-context fields (`traceparent`, `tracestate`), as they came in or go out.
public struct TraceContextFields: Sendable, Equatable {
    public var traceparent: String?
    public var tracestate: String?

    public init(traceparent: String? = nil, tracestate: String? = nil) {
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// The trace id (32 hex digits) of a well-formed `traceparent`.
    public var traceID: Substring? {
        guard let traceparent, traceparent.utf8.count == 55 else { return nil }
        return traceparent.dropFirst(3).prefix(32)
    }

    public struct Reader: Extractor {
        public init() {}
        public func extract(key: String, from carrier: TraceContextFields) -> String? {
            switch key {
            case "traceparent": return carrier.traceparent
            case "tracestate": return carrier.tracestate
            default: return nil
            }
        }
    }

    public struct Writer: Injector {
        public init() {}
        public func inject(_ value: String, forKey key: String, into carrier: inout TraceContextFields) {
            switch key {
            case "traceparent": carrier.traceparent = value
            case "tracestate": carrier.tracestate = value
            default: break  // baggage and other propagators' fields are not passed on
            }
        }
    }
}
