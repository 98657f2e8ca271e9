import NIOCore

/// The client side an exchange answers through: an HTTP/1.1 connection, or one HTTP/2 stream.
/// The exchange decides what to send; the client side decides how it goes on the wire.
protocol ExchangeClient: AnyObject {
    /// Writes the response head, with the first body bytes when there are some already (one write).
    func writeHead(_ head: OutgoingHead, body: ByteBuffer?)
    func writeBody(_ data: ByteBuffer)
    /// The response ended (writes what ends it: the last chunk, END_STREAM) and flushes.
    func writeEnd()
    func flush()
    /// Whether the client takes more response bytes now (backpressure).
    var isWritable: Bool { get }
    /// The exchange now takes request body bytes (it is forwarding, collecting or draining).
    func bodyWanted()
    /// The upstream connection stopped (or started again) taking request bytes: stop (start)
    /// reading the request body from the client.
    func upstreamWritable(_ writable: Bool)
    /// An HTTP/1.1 client waiting with `Expect: 100-continue` may send its body.
    func sendContinue()
    /// The upstream answered `101` to a WebSocket handshake (HTTP/1.1 only): every byte the
    /// client sends from now on is request "body" for the tunnel.
    func switchedProtocols()
    /// The exchange is over; `close`: the connection (or stream) must end after what was written.
    func exchangeFinished(close: Bool)
    /// Cut the connection (or reset the stream) at once: a response broke mid-way.
    func abort()
    /// Inside the handling of one read from the client: what the exchange writes upstream is
    /// flushed once at the end of it (`ProxyExchange.requestReadComplete`), head and body together.
    var inReadBatch: Bool { get }
    /// Whether `exchange` is still the one this client is serving (late async results check it).
    func isServing(_ exchange: ProxyExchange) -> Bool
}
