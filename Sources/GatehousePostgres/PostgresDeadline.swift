import Synchronization

/// Runs `operation` and answers within `timeout` whatever it does: a database that stopped
/// answering must not hold a request (or `/readyz`) until TCP gives up. On time-out the
/// operation is cancelled and left to finish in the background; its result is dropped. A write
/// that timed out may still commit — the caller only learns that it did not hear back in time.
func withPostgresDeadline<T: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let answer = SingleAnswer<T>()
    let work = Task {
        do {
            answer.give(.success(try await operation()))
        } catch {
            answer.give(.failure(error))
        }
    }
    let timer = Task {
        try? await Task.sleep(for: timeout)
        guard !Task.isCancelled else { return }
        answer.give(.failure(PostgresStoreError(.timedOut, "no answer from the database within \(timeout)")))
        work.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { answer.wait($0) }
    } onCancel: {
        answer.give(.failure(CancellationError()))
        work.cancel()
    }
}

/// One result handed to one waiting continuation, whichever side produces it first.
private final class SingleAnswer<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Error>?
        var result: Result<T, Error>?
    }

    private let state = Mutex(State())

    /// Registers the waiter; resumes it at once if the answer came first.
    func wait(_ continuation: CheckedContinuation<T, Error>) {
        let ready: Result<T, Error>? = state.withLock { s in
            if s.result == nil { s.continuation = continuation }
            return s.result
        }
        if let ready { continuation.resume(with: ready) }
    }

    /// Offers a result; only the first one counts.
    func give(_ result: Result<T, Error>) {
        let waiter: CheckedContinuation<T, Error>? = state.withLock { s in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.continuation = nil }
            return s.continuation
        }
        waiter?.resume(with: result)
    }
}
