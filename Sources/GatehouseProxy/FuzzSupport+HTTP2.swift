import NIOCore

extension ProxyFuzzHooks {
    /// HTTP/2 frames from a client (after its connection preface) through an nghttp2 session and
    /// the head builder, as the data plane runs them: whatever the bytes, no crash, every head
    /// built holds only bytes an HTTP/1.1 upstream head may carry, and the same requests come out
    /// whether the bytes arrive in one read or in two.
    public static func http2Requests(_ data: UnsafeRawBufferPointer) {
        let one = HTTP2FuzzConnection.run(data, cut: data.count)
        let two = HTTP2FuzzConnection.run(data, cut: data.count > 1 ? Int(data[data.count - 1]) * 131 % data.count : 0)
        precondition(one == two, "HTTP/2: one read \(one), two reads \(two)")
    }
}

/// A connection without a socket: collects what each stream's head became.
private final class HTTP2FuzzConnection: HTTP2SessionDelegate {
    private var session: HTTP2Session!
    private var builders: [Int32: HTTP2RequestHeadBuilder] = [:]
    private(set) var outcomes: [String] = []

    static func run(_ data: UnsafeRawBufferPointer, cut: Int) -> [String] {
        let connection = HTTP2FuzzConnection()
        var limits = HTTP2Session.Limits()
        limits.maxHeaderListBytes = 4096
        connection.session = HTTP2Session(delegate: connection, limits: limits)
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        var failed = preface.withUnsafeBytes { connection.feed($0) }
        if !failed, cut > 0 { failed = connection.feed(UnsafeRawBufferPointer(rebasing: data[0..<cut])) }
        if !failed, cut < data.count { failed = connection.feed(UnsafeRawBufferPointer(rebasing: data[cut...])) }
        return connection.outcomes + (failed ? ["connection error"] : [])
    }

    /// One read, then what the session has to send (acknowledgements, responses): true when the
    /// session refused the bytes.
    private func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = session.receive(bytes)
        while session.nextOutput() != nil {}
        return n < 0
    }

    func streamBegan(_ id: Int32) {
        builders[id] = HTTP2RequestHeadBuilder(maxListBytes: 4096, allocator: ByteBufferAllocator())
    }

    func streamField(_ id: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        builders[id]?.add(name: name, value: value)
    }

    func streamHeadComplete(_ id: Int32, endStream: Bool) {
        guard var builder = builders.removeValue(forKey: id) else { return }
        switch builder.build(endStream: endStream) {
        case .failure(let failure):
            outcomes.append("\(id): \(failure)")
        case .success(let built):
            let head = built.head
            var summary = "\(id): \(head.methodName) \(head.target) \(built.framing) ws=\(built.isWebSocket)"
            head.withBytes { p in
                precondition(head.methodRange.upperBound <= p.count && head.targetRange.upperBound <= p.count)
                for f in head.fields {
                    precondition(f.nameStart < f.nameEnd && f.valueStart <= f.valueEnd && Int(f.valueEnd) <= p.count && Int(f.nameEnd) <= p.count)
                    let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                    let value = UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)])
                    precondition(name.allSatisfy { HTTPBytes.isTChar($0) && !($0 >= 0x41 && $0 <= 0x5A) }, "a field name HTTP/1.1 cannot carry")
                    precondition(HTTP2RequestHeadBuilder.isValidValue(value) || f.kind == .cookie, "a field value HTTP/1.1 cannot carry")
                    precondition(!value.contains(HTTPBytes.cr) && !value.contains(HTTPBytes.lf) && !value.contains(0), "CR, LF or NUL in a value")
                    summary += " \(head.name(f))=\(head.value(f).utf8.count)"
                }
                let target = UnsafeRawBufferPointer(rebasing: p[head.targetRange])
                precondition(!target.contains(HTTPBytes.cr) && !target.contains(HTTPBytes.lf) && !target.contains(HTTPBytes.sp) || Admission.target(head) != nil)
            }
            outcomes.append(summary)
        }
    }

    func streamData(_ id: Int32, _ data: UnsafeRawBufferPointer) {}
    func streamEnded(_ id: Int32) {}
    func streamClosed(_ id: Int32, errorCode: UInt32) { builders[id] = nil }
    func streamBody(_ id: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool)? { (0, true) }
    func pingAcknowledged() {}
    func invalidFrame() {}
}
