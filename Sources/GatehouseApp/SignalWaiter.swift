import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM end the process gracefully; an optional signal (SIGHUP) triggers a reload.
public final class SignalWaiter: @unchecked Sendable {
    // @unchecked: the sources are only touched from the serial signal queue after init.
    private let queue = DispatchQueue(label: "gatehouse.signals")
    private var sources: [DispatchSourceSignal] = []
    private let reload: (@Sendable () -> Void)?
    private let reloadSignal: Int32?

    public init(reloadOn reloadSignal: Int32? = nil, reload: (@Sendable () -> Void)? = nil) {
        self.reload = reload
        self.reloadSignal = reloadSignal
        if let reloadSignal, let reload {
            signal(reloadSignal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: reloadSignal, queue: queue)
            source.setEventHandler { reload() }
            source.resume()
            sources.append(source)
        }
    }

    /// Returns when SIGINT or SIGTERM arrives; each later one calls `another` (to cut a
    /// graceful shutdown short).
    public func waitForTermination(another: (@Sendable () -> Void)? = nil) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                var resumed = false
                for sig in [SIGINT, SIGTERM] {
                    signal(sig, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: sig, queue: self.queue)
                    source.setEventHandler {
                        if !resumed {
                            resumed = true
                            continuation.resume()
                        } else {
                            another?()
                        }
                    }
                    source.resume()
                    self.sources.append(source)
                }
            }
        }
    }
}
