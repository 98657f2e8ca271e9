import NIOCore

/// Entry points for the libFuzzer targets in `Fuzz/` (SPI `Fuzzing`, not API). Each feeds
/// hostile bytes to the internal parser the data plane runs and checks what must hold whatever
/// the input: no crash, no out-of-bounds span, and the same verdict whether the bytes arrive in
/// one read or in two. A broken property stops the process (`precondition`), which libFuzzer
/// reports as a finding with the input that caused it.
@_spi(Fuzzing)
public enum ProxyFuzzHooks {
    /// The split point for the two-read variant: taken from the input itself, so that libFuzzer
    /// explores it along with the bytes.
    private static func split(_ data: UnsafeRawBufferPointer) -> Int {
        guard data.count > 1 else { return 0 }
        return Int(data[data.count - 1]) * 131 % data.count
    }

    private static func buffer(_ data: UnsafeRawBufferPointer) -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: data.count)
        b.writeBytes(data)
        return b
    }

    private enum Verdict: Equatable {
        case needMore
        case complete(Int)
        case failure(HTTPParseError)
    }

    /// A request head parsed from one read and from two; a complete head's fields are read back.
    public static func requestHead(_ data: UnsafeRawBufferPointer, maxHeadBytes: Int = 8192) {
        let whole = buffer(data)
        var oneRead = RequestHeadParser(maxHeadBytes: maxHeadBytes, maxFields: 64)
        let first = verdict(oneRead.parse(whole))

        var twoReads = RequestHeadParser(maxHeadBytes: maxHeadBytes, maxFields: 64)
        let cut = split(data)
        var second = Verdict.needMore
        if cut > 0 { second = verdict(twoReads.parse(whole.getSlice(at: whole.readerIndex, length: cut)!)) }
        if second == .needMore { second = verdict(twoReads.parse(whole)) }
        precondition(first == second, "request head: one read \(first), two reads \(second)")

        guard case .complete(let length) = first else { return }
        precondition(length > 0 && length <= min(data.count, maxHeadBytes))
        var rest = whole
        let head = oneRead.take(length: length, from: &rest)
        precondition(rest.readableBytes == data.count - length)
        precondition(head.methodRange.upperBound <= length && head.targetRange.upperBound <= length)
        precondition(!head.methodName.isEmpty && !head.target.isEmpty)
        for f in head.fields {
            precondition(f.nameStart < f.nameEnd && Int(f.nameEnd) <= length, "field name out of the head")
            precondition(f.valueStart <= f.valueEnd && Int(f.valueEnd) <= length, "field value out of the head")
            _ = head.name(f)
            _ = head.value(f)
        }
        _ = head.framing()
        for f in head.fields where f.kind == .connection { _ = head.connectionTokens(f) }
    }

    /// A response head, like `requestHead`, then its body framing.
    public static func responseHead(_ data: UnsafeRawBufferPointer, maxHeadBytes: Int = 8192) {
        let whole = buffer(data)
        var oneRead = ResponseHeadParser(maxHeadBytes: maxHeadBytes, maxFields: 64)
        let first = verdict(oneRead.parse(whole))

        var twoReads = ResponseHeadParser(maxHeadBytes: maxHeadBytes, maxFields: 64)
        let cut = split(data)
        var second = Verdict.needMore
        if cut > 0 { second = verdict(twoReads.parse(whole.getSlice(at: whole.readerIndex, length: cut)!)) }
        if second == .needMore { second = verdict(twoReads.parse(whole)) }
        precondition(first == second, "response head: one read \(first), two reads \(second)")

        guard case .complete(let length) = first else { return }
        precondition(length > 0 && length <= min(data.count, maxHeadBytes))
        var rest = whole
        let head = oneRead.take(length: length, from: &rest)
        precondition((100...999).contains(head.status) && head.reasonRange.upperBound <= length)
        for f in head.fields {
            precondition(f.nameStart < f.nameEnd && Int(f.nameEnd) <= length, "field name out of the head")
            precondition(f.valueStart <= f.valueEnd && Int(f.valueEnd) <= length, "field value out of the head")
            _ = head.value(f)
        }
        _ = head.closesConnection
        _ = head.declaredLength
        if var reader = head.bodyReader(requestMethod: .get) {
            var body = 0
            _ = reader.read(&rest) { body += $0.readableBytes }
            precondition(body <= data.count - length)
        }
    }

    /// A chunked body decoded from one read and byte by byte: the same data and the same end.
    public static func chunkedBody(_ data: UnsafeRawBufferPointer) {
        var whole = buffer(data)
        var oneRead = ChunkedDecoder()
        var dataOne = ByteBufferAllocator().buffer(capacity: data.count)
        let stepOne = oneRead.decode(&whole) { var s = $0; dataOne.writeBuffer(&s) }
        let leftOne = whole.readableBytes

        var bytewise = ChunkedDecoder()
        var dataTwo = ByteBufferAllocator().buffer(capacity: data.count)
        var stepTwo = ChunkedDecoder.Step.needMore
        var all = buffer(data)
        var leftTwo = 0
        while all.readableBytes > 0 {
            var one = all.readSlice(length: 1)!
            stepTwo = bytewise.decode(&one) { var s = $0; dataTwo.writeBuffer(&s) }
            if stepTwo != .needMore {
                leftTwo = all.readableBytes + one.readableBytes
                break
            }
        }
        precondition(stepOne == stepTwo, "chunked: one read \(stepOne), byte by byte \(stepTwo)")
        precondition(dataOne == dataTwo, "chunked: the decoded data differs between one read and byte by byte")
        if stepOne == .end { precondition(leftOne == leftTwo, "chunked: the body ends at different bytes") }
        precondition(dataOne.readableBytes <= data.count)
    }

    private static func verdict(_ o: RequestHeadParser.Outcome) -> Verdict {
        switch o {
        case .needMore: .needMore
        case .complete(let n): .complete(n)
        case .failure(let e): .failure(e)
        }
    }

    private static func verdict(_ o: ResponseHeadParser.Outcome) -> Verdict {
        switch o {
        case .needMore: .needMore
        case .complete(let n): .complete(n)
        case .failure(let e): .failure(e)
        }
    }
}
