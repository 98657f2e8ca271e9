import Synchronization
import Tracing

/// The tracer spans are written with (docs/observability.md "Traces"), or none: tracing is off.
/// Replaced while Gatehouse runs when `tracing:` in `gatehouse.yaml` changes. With tracing off, a
/// request pays one relaxed atomic load for it.
public final class TracerSwitch: Sendable {
    /// What a request traces with.
    public struct Active: Sendable {
        public var tracer: any Tracer
        /// Whether the server span carries the caller's `sub`.
        public var recordSubject: Bool

        public init(tracer: any Tracer, recordSubject: Bool) {
            self.tracer = tracer
            self.recordSubject = recordSubject
        }
    }

    private let on = Atomic<Bool>(false)
    private let current = Mutex<Active?>(nil)

    public init() {}

    /// The tracer to use now; nil when tracing is off.
    public var active: Active? {
        guard on.load(ordering: .relaxed) else { return nil }
        return current.withLock { $0 }
    }

    public func set(_ active: Active?) {
        current.withLock { $0 = active }
        on.store(active != nil, ordering: .relaxed)
    }

    /// A child of the span in the task's current context (`ServiceContext.current`), when tracing
    /// is on and the task carries one; else nil. For work deep below a request (a key-set fetch)
    /// that has no other way to reach the request's span.
    public func childOfCurrent(_ name: String, kind: SpanKind) -> (any Span)? {
        guard let active, let context = ServiceContext.current else { return nil }
        return active.tracer.startAnySpan(name, context: context, ofKind: kind)
    }
}

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
