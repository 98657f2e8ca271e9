import Synchronization
import Testing

@testable import GatehouseApp

/// Re-reads asked for by change notifications are coalesced: anyone who may NOTIFY on the
/// database can ask for thousands, and the store sees one in flight and one after it.
@Suite struct CoalescedRefreshTests {
    /// Holds callers until opened.
    final class Latch: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func wait() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.open { return true }
                    s.waiters.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        }

        func open() {
            let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.open = true
                defer { s.waiters = [] }
                return s.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    @Test func requestsDuringARunCauseOneMoreRunNotOneEach() async {
        let runs = Mutex(0)
        let latch = Latch()
        let refresh = CoalescedRefresh {
            runs.withLock { $0 += 1 }
            await latch.wait()
        }
        refresh.request()
        #expect(await eventually(within: 5) { runs.withLock { $0 } == 1 }, "an idle refresh runs at once")
        for _ in 0..<1000 { refresh.request() }
        latch.open()
        #expect(await eventually(within: 5) { runs.withLock { $0 } >= 2 })
        // Once idle again, one more request is one more run: 3 in all, not 1002.
        #expect(await eventually(within: 5) {
            refresh.request()
            return runs.withLock { $0 } >= 3
        })
        #expect(runs.withLock { $0 } <= 4, "\(runs.withLock { $0 }) runs for 1002 requests")
    }
}
