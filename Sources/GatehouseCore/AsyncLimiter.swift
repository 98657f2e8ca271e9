import Synchronization

/// Runs at most `limit` async operations at once. The others wait in arrival order, except that
/// urgent ones (and waiting ones promoted since) go first. With `limit` 1 it serialises.
public actor AsyncLimiter {
    /// Names one operation, so that it can be promoted while it waits (even before `run` is
    /// entered: a promotion that arrives first is remembered).
    public struct Ticket: Hashable, Sendable {
        let id: UInt64
    }

    public nonisolated let limit: Int
    private nonisolated let nextID = Atomic<UInt64>(0)
    private var running = 0
    private var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var urgentQueue: [UInt64] = []
    private var normalQueue: [UInt64] = []
    private var normalHead = 0
    /// Promotions of tickets not waiting yet. A hint only: a promotion that arrives after its
    /// operation started is never taken out, so the set is cleared when it grows large.
    private var promotedEarly: Set<UInt64> = []
    private var inside: Set<UInt64> = []

    public init(limit: Int) {
        self.limit = max(limit, 1)
    }

    public nonisolated func ticket() -> Ticket {
        Ticket(id: nextID.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    /// How many operations are waiting for a turn.
    public var waitingCount: Int { waiting.count }

    /// How many of those are urgent or promoted.
    public var waitingUrgentCount: Int { Set(urgentQueue).filter { waiting[$0] != nil }.count }

    /// Runs `body` when a turn is free.
    public func run<T: Sendable>(
        _ ticket: Ticket? = nil, urgent: Bool = false, _ body: @Sendable () async -> T
    ) async -> T {
        let id = (ticket ?? self.ticket()).id
        let isUrgent = urgent || promotedEarly.remove(id) != nil
        inside.insert(id)
        defer { inside.remove(id) }
        if running < limit {
            running += 1
        } else {
            await withCheckedContinuation { continuation in
                waiting[id] = continuation
                if isUrgent { urgentQueue.append(id) } else { normalQueue.append(id) }
            }
        }
        defer { handOn() }
        return await body()
    }

    /// Moves a waiting operation ahead of every non-urgent one. No effect once it runs.
    public func promote(_ ticket: Ticket) {
        if waiting[ticket.id] != nil {
            if !urgentQueue.contains(ticket.id) { urgentQueue.append(ticket.id) }
        } else if !inside.contains(ticket.id) {
            if promotedEarly.count >= 4096 { promotedEarly.removeAll() }
            promotedEarly.insert(ticket.id)
        }
    }

    /// Gives the finished operation's turn to the next waiter (a promoted one is also still in
    /// the normal queue: whichever queue reaches it second finds it gone and skips it).
    private func handOn() {
        while let id = urgentQueue.first {
            urgentQueue.removeFirst()
            if let continuation = waiting.removeValue(forKey: id) { return continuation.resume() }
        }
        while normalHead < normalQueue.count {
            let id = normalQueue[normalHead]
            normalHead += 1
            if normalHead > 1024, normalHead * 2 > normalQueue.count {
                normalQueue.removeFirst(normalHead)
                normalHead = 0
            }
            if let continuation = waiting.removeValue(forKey: id) { return continuation.resume() }
        }
        running -= 1
    }
}
