/// The life of one HTTP/1.1 client connection, without I/O: which request is being served,
/// whether the connection stays open after it, and what a parse error, an idle timer, a drain
/// or the client going away mean at each point. Events in, actions out; `HTTP1Connection`
/// carries the actions out. One request is served at a time: bytes of a pipelined request wait
/// in the read buffer until the one before it is over.
struct HTTP1ConnectionStateMachine {
    enum State: Equatable {
        /// Between requests: the next head is read as soon as bytes come.
        case idle
        /// A request is being served; `keepAlive`: the connection may serve another after it.
        case serving(keepAlive: Bool)
        /// The last response is being written; the connection closes after it.
        case closing
        case closed
    }

    enum Action: Equatable {
        case none
        /// Parse the next request from the bytes already read (and read more).
        case readNextRequest
        /// Answer the parse error with this status, then close.
        case answerThenClose(status: Int)
        /// Close once what was written is flushed.
        case closeAfterWrites
        /// Close now.
        case close
        /// Tell the exchange in progress that the client is gone.
        case abandonExchange
    }

    private(set) var state = State.idle
    /// A drain was asked for: no new request is taken.
    private(set) var quiescing = false

    var isIdle: Bool { state == .idle }

    /// A request head was parsed; `keepAlive` from its version and `Connection`.
    mutating func requestStarted(keepAlive: Bool) {
        precondition(state == .idle, "a request started while another was served")
        state = .serving(keepAlive: keepAlive && !quiescing)
    }

    /// Whether the connection closes after the request being served.
    var closesAfterRequest: Bool {
        if case .serving(let keepAlive) = state { return !keepAlive }
        return true
    }

    mutating func parseFailed(status: Int) -> Action {
        switch state {
        case .idle:
            state = .closing
            return .answerThenClose(status: status)
        case .serving:
            // The request's body broke: its answer (if not yet given) is the exchange's.
            state = .closing
            return .closeAfterWrites
        case .closing, .closed:
            return .none
        }
    }

    /// The exchange is over; `close`: it asked for the connection to end.
    mutating func requestFinished(close: Bool) -> Action {
        guard case .serving(let keepAlive) = state else { return .none }
        if close || !keepAlive || quiescing {
            state = .closing
            return .closeAfterWrites
        }
        state = .idle
        return .readNextRequest
    }

    mutating func clientClosed() -> Action {
        let previous = state
        state = .closed
        if case .serving = previous { return .abandonExchange }
        return .none
    }

    /// The connection's idle timer: only a connection with no request in progress is idle.
    mutating func idleTimeout() -> Action {
        guard state == .idle else { return .none }
        state = .closed
        return .close
    }

    /// Graceful shutdown: an idle connection closes now, a busy one after its response.
    mutating func quiesce() -> Action {
        quiescing = true
        switch state {
        case .idle:
            state = .closed
            return .close
        case .serving:
            state = .serving(keepAlive: false)
            return .none
        case .closing, .closed:
            return .none
        }
    }
}
