import GatehouseCore

/// One IdP's published keys (a JWK Set document), parsed and bounded.
public struct KeySet: Sendable {
    /// Larger documents are refused whole, before parsing.
    public static let maxDocumentBytes = 256 * 1024
    /// Sets holding more keys are refused whole: a flood of keys makes every kid-less lookup and
    /// every refresh expensive.
    public static let maxKeys = 100

    public var keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) {
        self.keys = keys
    }

    public struct DocumentError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses a JWK Set document. Keys that cannot be used stay in the set, marked with why.
    public static func parse(_ document: [UInt8]) throws(DocumentError) -> KeySet {
        guard document.count <= maxDocumentBytes else {
            throw DocumentError(description: "key set larger than \(maxDocumentBytes) bytes")
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(document, limits: .init(maxDepth: 16, maxBytes: maxDocumentBytes))
        } catch {
            throw DocumentError(description: "key set is not valid JSON (\(error))")
        }
        guard let list = root["keys"]?.arrayValue else {
            throw DocumentError(description: "key set has no \"keys\" array")
        }
        guard list.count <= maxKeys else {
            throw DocumentError(description: "key set holds \(list.count) keys (limit \(maxKeys))")
        }
        return KeySet(keys: list.map(JSONWebKey.parse))
    }

    /// Keys refused while parsing, for the log: `kid` and reason only, never key material.
    public var refusals: [(kid: String?, refusal: JSONWebKey.Refusal)] {
        keys.compactMap { key in key.refusal.map { (key.kid, $0) } }
    }

    enum Selection {
        /// Candidate keys (several only when an IdP publishes one `kid` twice).
        case keys([JSONWebKey])
        /// No key carries this `kid` (or, for a token without one, no key fits): a refresh may help.
        case unknownKID
        /// The `kid` names keys, but none can verify this algorithm; `reason` is an AuthError reason.
        case unusable(reason: String)
        /// A token without `kid` while several keys fit its algorithm: never guess.
        case ambiguous(Int)
    }

    /// Picks the verification key by `kid` only (docs/request-path.md "Key sets"); no default key.
    func select(kid: String?, algorithm: JWSAlgorithm) -> Selection {
        guard let kid else {
            let usable = keys.filter { $0.canVerify(algorithm) }
            switch usable.count {
            case 0: return .unknownKID
            case 1: return .keys(usable)
            default: return .ambiguous(usable.count)
            }
        }
        let named = keys.filter { $0.kid == kid }
        if named.isEmpty { return .unknownKID }
        let usable = named.filter { $0.canVerify(algorithm) }
        if !usable.isEmpty { return .keys(usable) }
        if named.allSatisfy({ $0.refusal == .weak }) { return .unusable(reason: AuthReason.weakKey) }
        return .unusable(reason: AuthReason.keyType)
    }
}
