import GatehouseCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SealingKey {
    /// The default key's name, in `assertion.key_dir`.
    public static let defaultFileName = "flow-token.key"

    /// Reads the key at `path`: exactly 32 bytes, in a regular file nobody but its owner (and
    /// its group) can read. A missing file is created when `createIfMissing` (the default
    /// location, as a single instance wants) and is an error otherwise: a configured key that is
    /// not there is a deployment mistake, and a key made up on the spot would be this replica's
    /// alone.
    public static func load(path: String, createIfMissing: Bool) throws(SealingKeyError) -> SealingKey {
        if let bytes = try readFile(path) { return SealingKey(path: path, bytes: bytes) }
        guard createIfMissing else {
            throw SealingKeyError(
                description: "sealing_key_file \(path) does not exist: create 32 random bytes once "
                    + "(deploy/make-sealing-key.sh \(path)) and give every replica the same file")
        }
        return SealingKey(path: path, bytes: try create(path))
    }

    /// Creation writes a private temporary file and `link`s it into place: `link` never replaces
    /// an existing file, so two processes starting together agree on one key and nobody ever
    /// reads a half-written file.
    private static func create(_ path: String) throws(SealingKeyError) -> [UInt8] {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        do {
            try PrivateFile.ensureDirectory(directory)
        } catch {
            throw SealingKeyError(description: "key directory: \(error.description)")
        }
        let temp = directory + "/.sealing-key." + Secrets.hex(Secrets.randomBytes(8)) + ".tmp"
        do {
            try PrivateFile.createNew(temp, Secrets.randomBytes(32))
        } catch {
            throw SealingKeyError(description: error.description)
        }
        defer { unlink(temp) }
        if link(temp, path) != 0 && errno != EEXIST {
            throw SealingKeyError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        // Whoever won the race, the file in place is the key.
        guard let bytes = try readFile(path) else { throw SealingKeyError(description: "\(path) vanished while being created") }
        return bytes
    }

    /// The key, nil when the file does not exist. Anything but exactly 32 bytes is an error, not
    /// a reason to make a new key: replacing a key silently would strand every stored flow.
    ///
    /// Symbolic links are followed: Kubernetes mounts each file of a Secret as a link into a
    /// `..data` folder. What is checked is the file reached: a regular file without write or
    /// execute permission for its group and no permission at all for others. Group read is
    /// allowed because that is how a pod's `fsGroup` lets a non-root user read a Secret.
    static func readFile(_ path: String) throws(SealingKeyError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SealingKeyError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SealingKeyError(description: "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SealingKeyError(description: "\(path) is not a regular file") }
        let mode = info.st_mode & 0o777
        guard mode & 0o037 == 0 else {
            throw SealingKeyError(
                description: "\(path) has mode 0\(String(mode, radix: 8)): a sealing key must not be accessible to others "
                    + "(use 0600 or 0400; 0440 for a group such as a pod's fsGroup)")
        }
        var buffer = [UInt8](repeating: 0, count: 33)
        var count = 0
        while count < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SealingKeyError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            count += n
        }
        guard count == 32 else { throw SealingKeyError(description: "\(path) must hold exactly 32 bytes") }
        return Array(buffer.prefix(32))
    }
}
