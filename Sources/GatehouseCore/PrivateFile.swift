#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Secret files (signing keys, the flow-token key): created with mode 0600 from the start, so
/// they are never readable by others, not even briefly.
public enum PrivateFile {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Creates `path` (O_CREAT|O_EXCL|O_NOFOLLOW: never an existing file or a symlink), writes
    /// `bytes` and syncs. On failure the partial file is removed.
    public static func createNew(_ path: String, _ bytes: [UInt8]) throws(Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                unlink(path)
                throw Failure(description: "cannot write \(path): \(String(cString: strerror(code)))")
            }
            offset += written
        }
        guard fsync(fd) == 0 else {
            unlink(path)
            throw Failure(description: "cannot sync \(path)")
        }
    }
}
