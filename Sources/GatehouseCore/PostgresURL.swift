/// A `store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]` value,
/// parsed strictly (docs/store-and-replicas.md "The URL"). `postgresql://` is accepted too. User, password and database are
/// percent-decoded, so a password holding `@`, `:` or `/` is written `%40`, `%3A`, `%2F`.
///
/// Nothing here ever repeats the password: `description` masks it and the parse errors never
/// quote the input.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is protected, libpq's names.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP (the default when `sslmode` is absent): for a database on loopback or a
        /// private network only.
        case disable
        /// TLS, but the server's certificate is not checked (what libpq's `require` does):
        /// protects against eavesdropping, not against an active attacker.
        case require
        /// TLS with the certificate chain checked against the trusted roots, not the host name.
        case verifyCA = "verify-ca"
        /// TLS with the chain and the host name checked: the mode to use across networks.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    /// Lower-cased; IPv6 literals without brackets.
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode
    /// PEM file of the roots to trust for `verify-ca`/`verify-full` (nil: the system's roots).
    public var sslRootCertificate: String?

    public init(
        user: String, password: String?, host: String, port: Int = 5432, database: String, sslMode: SSLMode = .disable,
        sslRootCertificate: String? = nil
    ) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.sslMode = sslMode
        self.sslRootCertificate = sslRootCertificate
    }

    /// Why a URL was refused. The message names the part that is wrong, never its value.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The form every message refers to.
    public static let expectedForm = "postgres://USER:PASSWORD@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-ca|verify-full]"

    public init(parsing text: String) throws(ParseError) {
        func fail(_ message: String) -> ParseError { ParseError(message: message) }
        let lowered = text.lowercased()
        guard lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") else {
            throw fail("must start with postgres:// or postgresql://")
        }
        guard let url = ParsedURL(text) else { throw fail("is not a valid postgres URL (expected \(Self.expectedForm))") }
        guard url.fragment == nil else { throw fail("must not have a #fragment") }
        // ParsedURL keeps only the host part of the authority; the user info is read here.
        let authorityStart = text.index(text.firstIndex(of: ":")!, offsetBy: 3)
        let rest = text[authorityStart...]
        let authority = rest[..<(rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex)]
        guard url.hasUserInfo, let at = authority.lastIndex(of: "@") else {
            throw fail("needs a user name (expected \(Self.expectedForm))")
        }
        let userInfo = authority[..<at]
        let rawUser: Substring
        var rawPassword: Substring?
        if let colon = userInfo.firstIndex(of: ":") {
            rawUser = userInfo[..<colon]
            rawPassword = userInfo[userInfo.index(after: colon)...]
        } else {
            rawUser = userInfo
        }
        guard let user = Self.percentDecoded(rawUser), !user.isEmpty else { throw fail("needs a user name (expected \(Self.expectedForm))") }
        var password: String?
        if let rawPassword {
            guard let decoded = Self.percentDecoded(rawPassword) else { throw fail("has a badly percent-encoded password") }
            password = decoded
        }
        guard url.path.hasPrefix("/"), let database = Self.percentDecoded(url.path.dropFirst()), !database.isEmpty,
            !database.contains("/")
        else {
            throw fail("needs a database name after the host (expected \(Self.expectedForm))")
        }
        var sslMode = SSLMode.disable
        var rootCertificate: String?
        var seen: Set<String> = []
        for pair in (url.query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard seen.insert(name).inserted else { throw fail("repeats the parameter \(Self.printable(name))") }
            guard parts.count == 2, let value = Self.percentDecoded(parts[1]), !value.isEmpty else {
                throw fail("has a parameter without a value: \(Self.printable(name))")
            }
            switch name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    // allow/prefer fall back to plain text when the server says no: an active
                    // attacker can always make them do so, so they are refused rather than guessed.
                    throw fail("has an unsupported sslmode (use disable, require, verify-ca or verify-full)")
                }
                sslMode = mode
            case "sslrootcert":
                rootCertificate = value
            default:
                throw fail("has an unsupported parameter \(Self.printable(name)) (supported: sslmode, sslrootcert)")
            }
        }
        if rootCertificate != nil, sslMode != .verifyCA, sslMode != .verifyFull {
            throw fail("sslrootcert needs sslmode=verify-ca or verify-full")
        }
        self.init(
            user: user, password: password, host: url.host, port: url.port ?? 5432, database: database, sslMode: sslMode,
            sslRootCertificate: rootCertificate)
    }

    /// The URL with the password masked: safe to log.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let secret = password == nil ? "" : ":***"
        var text = "postgres://\(Self.percentEncoded(user))\(secret)@\(hostPart):\(port)/\(Self.percentEncoded(database))"
        text += "?sslmode=\(sslMode.rawValue)"
        if let sslRootCertificate { text += "&sslrootcert=\(Self.percentEncoded(sslRootCertificate))" }
        return text
    }

    /// The full URL, password included: for handing to another process, never for a log.
    public var connectionString: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let secret = password.map { ":" + Self.percentEncoded($0) } ?? ""
        var text = "postgres://\(Self.percentEncoded(user))\(secret)@\(hostPart):\(port)/\(Self.percentEncoded(database))"
        text += "?sslmode=\(sslMode.rawValue)"
        if let sslRootCertificate { text += "&sslrootcert=\(Self.percentEncoded(sslRootCertificate))" }
        return text
    }

    /// A parameter name as it may appear in a message: short, and only if it is a plain word.
    private static func printable(_ name: String) -> String {
        let plain = name.count <= 32 && name.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || $0 == "_" }
        return plain ? "\"\(name)\"" : "(unprintable name)"
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            let unreserved =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || "-._~".utf8.contains(byte)
            if unreserved {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
