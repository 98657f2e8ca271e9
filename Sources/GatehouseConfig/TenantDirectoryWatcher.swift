#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Notices changes to the tenants directory cheaply: a fingerprint of each tenant file's name,
/// size, modification time and inode, compared with the last one seen. No file is read.
///
/// The server polls `hasChanged()` (every second and on SIGHUP) and reloads through
/// `ConfigLoader` when it says so; a reload that fails keeps the old snapshot, and the watcher
/// does not report the same broken state again until the files change once more.
public final class TenantDirectoryWatcher: Sendable {
    public let directory: String
    private let lastSeen: Mutex<Fingerprint>

    /// Takes the first fingerprint now, so only later changes count.
    public init(directory: String) {
        self.directory = directory
        self.lastSeen = Mutex(Fingerprint.take(of: directory))
    }

    /// True when the directory looks different from the last call (or from `init`).
    public func hasChanged() -> Bool {
        let current = Fingerprint.take(of: directory)
        return lastSeen.withLock { last in
            guard last != current else { return false }
            last = current
            return true
        }
    }
}

struct Fingerprint: Equatable, Sendable {
    struct File: Equatable, Sendable {
        let name: String
        let size: Int64
        let modifiedSeconds: Int64
        let modifiedNanoseconds: Int64
        let inode: UInt64
    }

    /// Nil when the directory does not exist or cannot be listed.
    let files: [File]?

    static func take(of directory: String) -> Fingerprint {
        guard let entries = TenantDirectory.entries(in: directory) else { return Fingerprint(files: nil) }
        return Fingerprint(files: entries.map { entry in
            // `stat` follows symbolic links, so a Kubernetes ConfigMap update (which swaps the
            // link target) shows up as a change of the file itself.
            var info = stat()
            guard stat(entry.path, &info) == 0 else {
                return File(name: entry.name, size: -1, modifiedSeconds: 0, modifiedNanoseconds: 0, inode: 0)
            }
            #if canImport(Darwin)
            let modified = info.st_mtimespec
            #else
            let modified = info.st_mtim
            #endif
            return File(name: entry.name, size: Int64(info.st_size), modifiedSeconds: Int64(modified.tv_sec),
                        modifiedNanoseconds: Int64(modified.tv_nsec), inode: UInt64(info.st_ino))
        })
    }
}
