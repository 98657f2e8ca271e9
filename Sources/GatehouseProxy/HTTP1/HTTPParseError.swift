/// Why bytes from a client or an upstream were refused. Each maps to one status for a client
/// (400, 431, 501, 505) and to 502 for an upstream; the connection is always closed after it.
struct HTTPParseError: Error, Equatable, CustomStringConvertible {
    enum Code: Equatable {
        case badRequestLine
        case badMethod
        case badTarget
        case unsupportedVersion
        case badStatusLine
        case emptyFieldName
        case badFieldName
        case whitespaceBeforeColon
        case obsFold
        case bareCR
        case bareLF
        case badFieldValue
        case headTooLarge
        case tooManyFields
        case badChunkSize
        case chunkSizeTooLarge
        case badChunkExtension
        case missingChunkCRLF
        case trailersTooLarge
        case badTrailer
    }

    let code: Code

    init(_ code: Code) { self.code = code }

    /// The status a client gets for it.
    var status: Int {
        switch code {
        case .headTooLarge, .tooManyFields: return 431
        case .unsupportedVersion: return 505
        default: return 400
        }
    }

    var description: String {
        switch code {
        case .badRequestLine: return "malformed request line"
        case .badMethod: return "malformed method"
        case .badTarget: return "malformed request target"
        case .unsupportedVersion: return "unsupported HTTP version"
        case .badStatusLine: return "malformed status line"
        case .emptyFieldName: return "empty header name"
        case .badFieldName: return "invalid character in a header name"
        case .whitespaceBeforeColon: return "whitespace between a header name and its colon"
        case .obsFold: return "obsolete line folding"
        case .bareCR: return "CR not followed by LF"
        case .bareLF: return "LF without CR"
        case .badFieldValue: return "invalid character in a header value"
        case .headTooLarge: return "the header section is too large"
        case .tooManyFields: return "too many header fields"
        case .badChunkSize: return "malformed chunk size"
        case .chunkSizeTooLarge: return "chunk size too large"
        case .badChunkExtension: return "malformed or oversized chunk extension"
        case .missingChunkCRLF: return "chunk data not followed by CRLF"
        case .trailersTooLarge: return "the trailer section is too large"
        case .badTrailer: return "malformed trailer field"
        }
    }
}
