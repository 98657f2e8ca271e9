#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import GatehouseCore

/// Notices changes to one file (`gatehouse.yaml`) cheaply: its size, modification time and inode
/// (after following links, so a Kubernetes ConfigMap update shows), compared with the last seen.
public final class ConfigFileWatcher: Sendable {
    public let path: String
    private let lastSeen: LiveValue<[Int64]>

    public init(path: String) {
        self.path = path
        self.lastSeen = LiveValue(Self.fingerprint(path))
    }

    public func hasChanged() -> Bool {
        let current = Self.fingerprint(path)
        guard current != lastSeen.value else { return false }
        lastSeen.set(current)
        return true
    }

    static func fingerprint(_ path: String) -> [Int64] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        #else
        let modified = info.st_mtim
        #endif
        return [Int64(info.st_size), Int64(modified.tv_sec), Int64(modified.tv_nsec), Int64(bitPattern: UInt64(info.st_ino))]
    }
}
