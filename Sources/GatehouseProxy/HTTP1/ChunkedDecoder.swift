import NIOCore

/// Decodes a chunked body (RFC 9112 7.1) as its bytes arrive, strictly: 1–16 hex digits of size
/// (no sign, no space inside, no overflow), extensions bounded and free of controls, CRLF after
/// every size line and after every chunk's data, a trailer section of well-formed lines ending in
/// an empty one. Data comes out as slices of the input (no copy); trailers are read and dropped.
struct ChunkedDecoder {
    enum Step: Equatable {
        case needMore
        /// The body ended; bytes after it in the buffer belong to the next message.
        case end
        case failure(HTTPParseError)
    }

    private enum State {
        case sizeStart
        case size
        /// Whitespace after the size: only more of it or `;` may follow.
        case extensionSpace
        case extensions
        case sizeLF
        case data
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLineLF
        case trailerEndLF
        case done
    }

    static let maxExtensionBytes = 4096
    static let maxTrailerBytes = 16 * 1024

    private var state = State.sizeStart
    private var size = 0
    private var digits = 0
    private var extensionBytes = 0
    private var remaining = 0
    private var trailerBytes = 0
    private var trailerLineHasColon = false
    private var trailerNameEnded = false
    private var ext = ExtensionGrammar()

    /// The grammar of the extensions after one `;`, byte by byte.
    struct ExtensionGrammar {
        enum Where { case beforeName, name, afterName, beforeValue, token, quoted, escaped, afterValue }
        var at = Where.beforeName

        var canEnd: Bool {
            switch at {
            case .name, .afterName, .token, .afterValue: true
            default: false
            }
        }

        mutating func step(_ b: UInt8) -> Bool {
            let space = b == HTTPBytes.sp || b == HTTPBytes.htab
            switch at {
            case .beforeName:
                if space { return true }
                guard HTTPBytes.isTChar(b) else { return false }
                at = .name
            case .name:
                if HTTPBytes.isTChar(b) { return true }
                if space { at = .afterName } else if b == 0x3D { at = .beforeValue } else if b == 0x3B { at = .beforeName } else { return false }
            case .afterName:
                if space { return true }
                if b == 0x3D { at = .beforeValue } else if b == 0x3B { at = .beforeName } else { return false }
            case .beforeValue:
                if space { return true }
                if b == 0x22 { at = .quoted } else if HTTPBytes.isTChar(b) { at = .token } else { return false }
            case .token:
                if HTTPBytes.isTChar(b) { return true }
                if space { at = .afterValue } else if b == 0x3B { at = .beforeName } else { return false }
            case .quoted:
                if b == 0x22 { at = .afterValue } else if b == 0x5C { at = .escaped } else if !HTTPBytes.isFieldValueByte(b) { return false }
            case .escaped:
                guard HTTPBytes.isFieldValueByte(b) else { return false }
                at = .quoted
            case .afterValue:
                if space { return true }
                guard b == 0x3B else { return false }
                at = .beforeName
            }
            return true
        }
    }

    var isDone: Bool { if case .done = state { true } else { false } }

    /// Consumes what it can of `buffer`, calling `emit` with each run of body data.
    mutating func decode(_ buffer: inout ByteBuffer, emit: (ByteBuffer) -> Void) -> Step {
        while buffer.readableBytes > 0 {
            if case .data = state {
                let n = min(remaining, buffer.readableBytes)
                emit(buffer.readSlice(length: n)!)
                remaining -= n
                if remaining == 0 { state = .dataCR }
                continue
            }
            if case .done = state { return .end }
            let b = buffer.readInteger(as: UInt8.self)!
            if let failure = step(b) { return .failure(failure) }
            if case .done = state { return .end }
        }
        if case .done = state { return .end }
        return .needMore
    }

    private mutating func step(_ b: UInt8) -> HTTPParseError? {
        switch state {
        case .sizeStart, .size:
            if let v = HTTPBytes.hexValue(b) {
                digits += 1
                guard digits <= 16 else { return HTTPParseError(.chunkSizeTooLarge) }
                guard size <= (Int.max >> 5) else { return HTTPParseError(.chunkSizeTooLarge) }
                size = size << 4 | Int(v)
                state = .size
                return nil
            }
            guard case .size = state else { return HTTPParseError(.badChunkSize) }
            switch b {
            case HTTPBytes.cr: state = .sizeLF
            case 0x3B:
                state = .extensions
                ext = ExtensionGrammar()
                extensionBytes = 1
            case HTTPBytes.sp, HTTPBytes.htab:
                state = .extensionSpace
                extensionBytes = 1
            default: return HTTPParseError(.badChunkSize)
            }
        case .extensionSpace:
            extensionBytes += 1
            guard extensionBytes <= Self.maxExtensionBytes else { return HTTPParseError(.badChunkExtension) }
            switch b {
            case 0x3B:
                state = .extensions
                ext = ExtensionGrammar()
            case HTTPBytes.sp, HTTPBytes.htab: break
            default: return HTTPParseError(.badChunkExtension)
            }
        case .extensions:
            // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
            if b == HTTPBytes.cr {
                guard ext.canEnd else { return HTTPParseError(.badChunkExtension) }
                state = .sizeLF
                return nil
            }
            extensionBytes += 1
            guard extensionBytes <= Self.maxExtensionBytes, ext.step(b) else { return HTTPParseError(.badChunkExtension) }
        case .sizeLF:
            guard b == HTTPBytes.lf else { return HTTPParseError(.bareCR) }
            digits = 0
            extensionBytes = 0
            if size == 0 {
                state = .trailerLineStart
            } else {
                remaining = size
                size = 0
                state = .data
            }
        case .data:
            preconditionFailure("data is consumed in bulk")
        case .dataCR:
            guard b == HTTPBytes.cr else { return HTTPParseError(.missingChunkCRLF) }
            state = .dataLF
        case .dataLF:
            guard b == HTTPBytes.lf else { return HTTPParseError(.missingChunkCRLF) }
            state = .sizeStart
        case .trailerLineStart:
            trailerBytes += 1
            guard trailerBytes <= Self.maxTrailerBytes else { return HTTPParseError(.trailersTooLarge) }
            if b == HTTPBytes.cr {
                state = .trailerEndLF
                return nil
            }
            // A field name starts the line: no obs-fold, no bare LF.
            guard HTTPBytes.isTChar(b) else { return HTTPParseError(.badTrailer) }
            trailerLineHasColon = false
            trailerNameEnded = false
            state = .trailerLine
        case .trailerLine:
            trailerBytes += 1
            guard trailerBytes <= Self.maxTrailerBytes else { return HTTPParseError(.trailersTooLarge) }
            if b == HTTPBytes.cr {
                guard trailerLineHasColon else { return HTTPParseError(.badTrailer) }
                state = .trailerLineLF
                return nil
            }
            guard HTTPBytes.isFieldValueByte(b) else { return HTTPParseError(.badTrailer) }
            if !trailerNameEnded {
                if b == HTTPBytes.colon {
                    trailerNameEnded = true
                    trailerLineHasColon = true
                } else if !HTTPBytes.isTChar(b) {
                    return HTTPParseError(.badTrailer)
                }
            }
        case .trailerLineLF:
            guard b == HTTPBytes.lf else { return HTTPParseError(.bareCR) }
            state = .trailerLineStart
        case .trailerEndLF:
            guard b == HTTPBytes.lf else { return HTTPParseError(.bareCR) }
            state = .done
        case .done:
            return nil
        }
        return nil
    }
}

/// How the rest of a message's body is read, once its head has been parsed.
enum BodyReader {
    case none
    case length(remaining: Int)
    case chunked(ChunkedDecoder)
    /// A response without length: until the upstream closes (RFC 9112 6.3 rule 8).
    case untilClose

    var isFinished: Bool {
        switch self {
        case .none: true
        case .length(let n): n == 0
        case .chunked(let d): d.isDone
        case .untilClose: false
        }
    }

    /// Consumes body bytes from `buffer`, emitting body data; bytes past the body's end stay.
    mutating func read(_ buffer: inout ByteBuffer, emit: (ByteBuffer) -> Void) -> ChunkedDecoder.Step {
        switch self {
        case .none:
            return .end
        case .length(let remaining):
            let n = min(remaining, buffer.readableBytes)
            if n > 0 { emit(buffer.readSlice(length: n)!) }
            self = .length(remaining: remaining - n)
            return remaining - n == 0 ? .end : .needMore
        case .chunked(var decoder):
            self = .none  // avoid a copy of the decoder's state while it is mutated
            let step = decoder.decode(&buffer, emit: emit)
            self = .chunked(decoder)
            return step
        case .untilClose:
            if buffer.readableBytes > 0 { emit(buffer.readSlice(length: buffer.readableBytes)!) }
            return .needMore
        }
    }
}
