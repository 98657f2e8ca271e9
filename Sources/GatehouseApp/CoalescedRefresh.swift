import Synchronization

/// Runs `work` when asked, one run at a time: requests that arrive during a run cause exactly
/// one more run after it. A change notification asks for a re-read of the store; anyone who may
/// NOTIFY on the database can ask as often as they like, and the store still sees at most one
/// re-read in flight per kind.
final class CoalescedRefresh: Sendable {
    private let work: @Sendable () async -> Void
    private let state = Mutex<(running: Bool, again: Bool)>((false, false))

    init(_ work: @escaping @Sendable () async -> Void) {
        self.work = work
    }

    func request() {
        let start = state.withLock { s -> Bool in
            if s.running {
                s.again = true
                return false
            }
            s.running = true
            return true
        }
        if start { Task { await self.run() } }
    }

    private func run() async {
        repeat {
            await work()
        } while state.withLock { s -> Bool in
            if s.again {
                s.again = false
                return true
            }
            s.running = false
            return false
        }
    }
}
