/// The field-line grammar shared by request heads, response heads and trailer sections
/// (RFC 9112 5): `field-name ":" OWS field-value OWS CRLF`, strictly. Refused: whitespace
/// before the colon, obs-fold, bare CR, bare LF, an empty or non-token name, and controls
/// (but HTAB) or DEL in a value. Optional whitespace around the value is not part of it.
enum FieldLines {
    enum Step {
        /// Every line up to the empty one was read; the head (or trailer section) ends at `end`.
        case done(end: Int)
        /// The bytes end inside a line; `position` is where that line starts.
        case needMore
        case failure(HTTPParseError)
    }

    /// Reads field lines from `position` on, appending them to `fields`. On `.needMore`,
    /// `position` is left at the start of the incomplete line, so that the next call goes on
    /// from there (the scan is linear however the head is split across reads).
    static func scan(
        _ p: UnsafeRawBufferPointer, position: inout Int, fields: inout [HeaderField], maxFields: Int, classify: Bool
    ) -> Step {
        let end = p.count
        var i = position
        // Room for a usual head's fields at once, rather than growing 1, 2, 4, 8, 16.
        if fields.capacity < 16 { fields.reserveCapacity(16) }
        while true {
            let lineStart = i
            guard i < end else { return .needMore }
            let first = p[i]
            if first == HTTPBytes.cr {
                guard i + 1 < end else { return .needMore }
                guard p[i + 1] == HTTPBytes.lf else { return .failure(HTTPParseError(.bareCR)) }
                position = i + 2
                return .done(end: i + 2)
            }
            if first == HTTPBytes.lf { return .failure(HTTPParseError(.bareLF)) }
            if first == HTTPBytes.sp || first == HTTPBytes.htab { return .failure(HTTPParseError(.obsFold)) }

            // Name.
            var hash = HTTPBytes.fnvOffset
            var underscore = false
            while true {
                guard i < end else { return .needMore }
                let b = p[i]
                if b == HTTPBytes.colon { break }
                guard HTTPBytes.isTChar(b) else {
                    if b == HTTPBytes.sp || b == HTTPBytes.htab { return .failure(HTTPParseError(.whitespaceBeforeColon)) }
                    return .failure(HTTPParseError(.badFieldName))
                }
                if b == 0x5F { underscore = true }
                hash = HTTPBytes.fnv(hash, HTTPBytes.fold(b))
                i += 1
            }
            let nameEnd = i
            guard nameEnd > lineStart else { return .failure(HTTPParseError(.emptyFieldName)) }
            i += 1

            // Value, without the optional whitespace around it.
            while i < end, p[i] == HTTPBytes.sp || p[i] == HTTPBytes.htab { i += 1 }
            let valueStart = i
            var valueEnd = i
            // Eight bytes at a time while none of them is a control byte (which includes CR, LF
            // and HTAB) or DEL: such a word is all field-value bytes, and the loop below then
            // decides the word it stopped at byte by byte. A bearer token is most of a head.
            if let base = p.baseAddress {
                while i + 8 <= end {
                    let w = (base + i).loadUnaligned(as: UInt64.self)
                    if HTTPBytes.hasControlOrDEL(w) { break }
                    if p[i + 7] != HTTPBytes.sp {
                        valueEnd = i + 8
                    } else {
                        var k = i + 7
                        while k > i, p[k - 1] == HTTPBytes.sp { k -= 1 }
                        if k > i { valueEnd = k }
                    }
                    i += 8
                }
            }
            while true {
                guard i < end else { return .needMore }
                let b = p[i]
                if b == HTTPBytes.cr {
                    guard i + 1 < end else { return .needMore }
                    guard p[i + 1] == HTTPBytes.lf else { return .failure(HTTPParseError(.bareCR)) }
                    break
                }
                guard HTTPBytes.isFieldValueByte(b) else {
                    return .failure(HTTPParseError(b == HTTPBytes.lf ? .bareLF : .badFieldValue))
                }
                i += 1
                if b != HTTPBytes.sp && b != HTTPBytes.htab { valueEnd = i }
            }
            let padded = valueEnd != i
            i += 2
            guard fields.count < maxFields else { return .failure(HTTPParseError(.tooManyFields)) }
            var kind = FieldKind.other
            if classify {
                let name = UnsafeRawBufferPointer(rebasing: p[lineStart..<nameEnd])
                kind = FieldKind.classify(name)
            }
            fields.append(
                HeaderField(
                    nameStart: Int32(lineStart), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart), valueEnd: Int32(valueEnd),
                    kind: kind, foldedHash: hash, hasUnderscore: underscore, padded: padded))
            position = i
        }
    }
}
