import Crypto
import GatehouseCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The flow-token key file could not be created or read.
public struct FlowKeyError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The AES-256 key that seals user tokens at rest: `<key dir>/flow-token.key`, 32 raw bytes.
///
/// Created once with mode 0600 and reused afterwards, so flows survive restarts. Creation
/// writes a private temporary file and `link`s it into place: `link` never replaces an
/// existing file, so two processes starting together agree on one key and nobody ever reads a
/// half-written file.
enum FlowTokenKey {
    static let fileName = "flow-token.key"

    static func loadOrCreate(directory: String) throws(FlowKeyError) -> [UInt8] {
        var directory = directory
        while directory.utf8.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        try ensureDirectory(directory)
        let path = directory + "/" + fileName
        if let bytes = try readKey(path) { return bytes }
        let fresh = FlowSecrets.randomBytes(32)
        let suffix = FlowSecrets.hex(FlowSecrets.randomBytes(8))
        let temp = directory + "/." + fileName + "." + suffix + ".tmp"
        try writeNew(temp, fresh)
        defer { unlink(temp) }
        if link(temp, path) != 0 && errno != EEXIST {
            throw FlowKeyError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        // Whoever won the race, the file in place is the key.
        guard let bytes = try readKey(path) else { throw FlowKeyError(description: "\(path) vanished while being created") }
        return bytes
    }

    private static func ensureDirectory(_ directory: String) throws(FlowKeyError) {
        do {
            try PrivateFile.ensureDirectory(directory)
        } catch {
            throw FlowKeyError(description: "key directory: \(error.description)")
        }
    }

    /// The key, nil when the file does not exist. Anything but exactly 32 bytes is an error, not
    /// a reason to make a new key: replacing a key silently would strand every stored flow.
    private static func readKey(_ path: String) throws(FlowKeyError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FlowKeyError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 33)
        var count = 0
        while count < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FlowKeyError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            count += n
        }
        guard count == 32 else { throw FlowKeyError(description: "\(path) must hold exactly 32 bytes") }
        return Array(buffer.prefix(32))
    }

    private static func writeNew(_ path: String, _ bytes: [UInt8]) throws(FlowKeyError) {
        do {
            try PrivateFile.createNew(path, bytes)
        } catch {
            throw FlowKeyError(description: error.description)
        }
    }
}

/// Seals user tokens with AES-256-GCM. The associated data binds a sealed token to its flow
/// (tenant and session id): a row copied onto another flow does not open.
///
/// Holds the raw key bytes (a `SymmetricKey` is not `Sendable`) and wraps them per call.
struct FlowTokenSealer: Sendable {
    private let keyBytes: [UInt8]

    init(keyBytes: [UInt8]) {
        self.keyBytes = keyBytes
    }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    func seal(_ token: String, tenant: TenantID, sessionID: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(Array(token.utf8), using: key, authenticating: Self.associatedData(tenant, sessionID))
        // `combined` is nil only for a nonce size other than 12 bytes, which `seal` never makes.
        guard let combined = box.combined else { throw FlowKeyError(description: "AES-GCM produced no combined box") }
        return Array(combined)
    }

    /// The token, or nil when the box is damaged, belongs to another flow or another key.
    func open(_ sealed: [UInt8], tenant: TenantID, sessionID: String) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Self.associatedData(tenant, sessionID))
        else { return nil }
        return String(validating: Array(plain), as: UTF8.self)
    }

    static func associatedData(_ tenant: TenantID, _ sessionID: String) -> [UInt8] {
        Array("gatehouse-flow-token-v1\u{0}\(tenant.rawValue)\u{0}\(sessionID)".utf8)
    }
}
