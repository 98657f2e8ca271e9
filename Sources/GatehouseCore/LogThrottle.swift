/// At most one log line per `interval` for a message that hostile input can repeat at will.
public struct LogThrottle: Sendable {
    public let interval: Duration
    private var lastLogged: ContinuousClock.Instant?
    private var unlogged = 0

    public init(interval: Duration) {
        self.interval = interval
    }

    /// Whether to log now; if so, how many occurrences since the last line were not logged.
    public mutating func admit(now: ContinuousClock.Instant = .now) -> Int? {
        if let last = lastLogged, now - last < interval {
            unlogged += 1
            return nil
        }
        defer {
            lastLogged = now
            unlogged = 0
        }
        return unlogged
    }
}
