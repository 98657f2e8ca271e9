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
