import Testing

@testable import GatehouseProxy

/// The connection's life without a channel: keep-alive, close, parse errors, idle and drain.
struct HTTP1ConnectionStateMachineTests {
    @Test func keepAliveServesTheNextRequest() {
        var m = HTTP1ConnectionStateMachine()
        m.requestStarted(keepAlive: true)
        #expect(!m.closesAfterRequest)
        #expect(m.requestFinished(close: false) == .readNextRequest)
        #expect(m.isIdle)
    }

    @Test func aClosingRequestOrExchangeClosesAfterItsResponse() {
        var m = HTTP1ConnectionStateMachine()
        m.requestStarted(keepAlive: false)
        #expect(m.closesAfterRequest)
        #expect(m.requestFinished(close: false) == .closeAfterWrites)
        var n = HTTP1ConnectionStateMachine()
        n.requestStarted(keepAlive: true)
        #expect(n.requestFinished(close: true) == .closeAfterWrites)
        #expect(n.state == .closing)
    }

    @Test func aBrokenHeadIsAnsweredOnceThenTheConnectionCloses() {
        var m = HTTP1ConnectionStateMachine()
        #expect(m.parseFailed(status: 400) == .answerThenClose(status: 400))
        #expect(m.parseFailed(status: 400) == .none, "never a second answer")
        var n = HTTP1ConnectionStateMachine()
        n.requestStarted(keepAlive: true)
        #expect(n.parseFailed(status: 400) == .closeAfterWrites, "a broken body is the exchange's to answer")
    }

    @Test func aConnectionServingARequestIsNeverIdle() {
        var m = HTTP1ConnectionStateMachine()
        m.requestStarted(keepAlive: true)
        #expect(m.idleTimeout() == .none)
        _ = m.requestFinished(close: false)
        #expect(m.idleTimeout() == .close)
    }

    @Test func drainClosesIdleConnectionsAtOnceAndBusyOnesAfterTheirResponse() {
        var idle = HTTP1ConnectionStateMachine()
        #expect(idle.quiesce() == .close)
        var busy = HTTP1ConnectionStateMachine()
        busy.requestStarted(keepAlive: true)
        #expect(busy.quiesce() == .none)
        #expect(busy.closesAfterRequest)
        #expect(busy.requestFinished(close: false) == .closeAfterWrites)
    }

    @Test func aClientLeavingMidRequestAbandonsTheExchange() {
        var m = HTTP1ConnectionStateMachine()
        m.requestStarted(keepAlive: true)
        #expect(m.clientClosed() == .abandonExchange)
        var n = HTTP1ConnectionStateMachine()
        #expect(n.clientClosed() == .none)
    }
}
