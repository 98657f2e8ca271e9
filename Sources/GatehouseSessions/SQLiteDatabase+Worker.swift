import Foundation

/// One dedicated thread that owns a `SQLiteDatabase` and runs jobs on it in order.
///
/// SQLite calls block (disk I/O, fsync, busy waits). Running them on Swift's cooperative pool
/// would stall unrelated tasks on a 2-core box, and running them on callers' threads would need
/// a lock around the connection; a private thread avoids both and keeps the connection
/// single-threaded for its whole life.
///
/// `@unchecked Sendable`: `pending`, `stopping`, `finished` and `completions` are guarded by
/// `condition`; `database`, `openError` and `threadID` are written only by the worker thread,
/// and read elsewhere only after it has signalled `opened` in `init` (which orders the accesses).
final class SQLiteWorker: @unchecked Sendable {
    /// Receives the open database, or nil once it has been closed.
    typealias Job = @Sendable (SQLiteDatabase?) -> Void

    private let condition = NSCondition()
    private var pending: [Job] = []
    private var stopping = false
    private var finished = false
    private var completions: [@Sendable () -> Void] = []

    private var database: SQLiteDatabase?
    private var openError: Error?
    /// Set by the worker thread before `init` returns, constant afterwards.
    private var threadID: pthread_t?

    /// Starts the thread, opens the database on it with `open`, and waits for that to finish
    /// (blocking the caller once, at start-up); rethrows what `open` threw.
    init(name: String, open: @escaping @Sendable () throws -> SQLiteDatabase) throws {
        let opened = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in run(open: open, opened: opened) }
        // For debuggers; Foundation on Linux does not always hand it to the OS thread.
        thread.name = name
        thread.start()
        opened.wait()
        if let openError { throw openError }
    }

    /// Queues `job`; returns false (and drops it) once the worker is stopping.
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        pending.append(job)
        condition.signal()
        return true
    }

    /// Lets queued jobs finish, closes the database and ends the thread; `completion` runs once
    /// the database is closed. Later `submit` calls are refused.
    func stop(completion: (@Sendable () -> Void)? = nil) {
        condition.lock()
        stopping = true
        let runNow = finished
        if let completion, !runNow { completions.append(completion) }
        condition.signal()
        condition.unlock()
        if runNow { completion?() }
    }

    /// True when called from the worker thread (jobs run there, callers never should).
    var isCurrentThread: Bool {
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    private func run(open: () throws -> SQLiteDatabase, opened: DispatchSemaphore) {
        threadID = pthread_self()
        do {
            database = try open()
        } catch {
            openError = error
            condition.lock()
            stopping = true
            condition.unlock()
        }
        opened.signal()

        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            // Take everything queued at once: one lock round trip per burst, not per job.
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let done = batch.isEmpty && stopping
            condition.unlock()
            if done { break }
            for job in batch { job(database) }
        }

        database?.close()
        database = nil
        condition.lock()
        finished = true
        let toRun = completions
        completions.removeAll()
        condition.unlock()
        for completion in toRun { completion() }
    }
}
