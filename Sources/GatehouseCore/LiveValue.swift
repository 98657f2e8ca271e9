import Synchronization

/// A value read often and replaced rarely — a setting that can change while Gatehouse runs
/// (docs/configuration.md "Reloading") — shared by every thread that reads it.
public final class LiveValue<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    public init(_ value: Value) { storage = Mutex(value) }

    public var value: Value { storage.withLock { $0 } }

    public func set(_ value: Value) { storage.withLock { $0 = value } }
}
