import NIOCore
import Synchronization

/// Runs `operation` but gives up at `deadline` (throwing `.timeout`) even when the operation
/// itself cannot be interrupted, such as a blocking `getaddrinfo` on the thread pool: the work
/// finishes in the background and its result is dropped.
func withDeadline<T: Sendable>(
    _ deadline: NIODeadline, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = OneShot<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            outcome.arm(continuation)
            let work = Task {
                do { outcome.resume(.success(try await operation())) } catch { outcome.resume(.failure(error)) }
            }
            let remaining = deadline - .now()
            let timer = Task {
                try? await Task.sleep(for: Duration(remaining))
                if !Task.isCancelled {
                    outcome.resume(.failure(HTTPClientError(.timeout, "deadline passed")))
                    work.cancel()
                }
            }
            outcome.onResume { timer.cancel() }
        }
    } onCancel: {
        outcome.resume(.failure(HTTPClientError(.timeout, "cancelled")))
    }
}

/// A continuation resumed at most once, by whichever side finishes first.
final class OneShot<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Error>?
        var early: Result<T, Error>?
        var done = false
        var cleanup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func arm(_ continuation: CheckedContinuation<T, Error>) {
        let early: Result<T, Error>? = state.withLock { s in
            if let e = s.early {
                s.early = nil
                return e
            }
            s.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onResume(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s in
            if s.done { return true }
            s.cleanup = cleanup
            return false
        }
        if runNow { cleanup() }
    }

    func resume(_ result: Result<T, Error>) {
        let (continuation, cleanup): (CheckedContinuation<T, Error>?, (@Sendable () -> Void)?) = state.withLock { s in
            guard !s.done else { return (nil, nil) }
            s.done = true
            let c = s.continuation
            s.continuation = nil
            if c == nil { s.early = result }
            let cl = s.cleanup
            s.cleanup = nil
            return (c, cl)
        }
        continuation?.resume(with: result)
        cleanup?()
    }
}
