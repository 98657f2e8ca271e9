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

    /// Makes sure `directory` exists: missing parents are created with ordinary permissions
    /// (0755), the directory itself 0700 in one step. An existing directory is left as it is.
    public static func ensureDirectory(_ directory: String) throws(Failure) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw Failure(description: "\(directory) is not a directory") }
            return
        }
        var prefix = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/").dropLast() {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw Failure(description: "cannot create directory \(directory): \(String(cString: strerror(errno)))")
        }
    }
}
