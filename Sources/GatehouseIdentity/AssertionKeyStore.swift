import Crypto
import GatehouseCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gatehouse's own ES256 keys on disk: one PKCS#8 PEM file per key, named `<kid>.pem`, where the
/// kid starts with the key's creation time (`<unix seconds>-<random hex>`) so that "newest" is
/// readable from the name and survives copies that do not keep file times.
enum AssertionKeyStore {
    struct StoredKey {
        var kid: String
        var createdAt: Int64
        var key: P256.Signing.PrivateKey
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// All keys in `directory`, oldest first; creates the directory (0700) and a first key when
    /// there is none. Replicas starting together on one empty (shared) directory make one key
    /// between them: the look and the creation happen under an exclusive `flock` of the
    /// directory. Without it each made its own and published only its own, so an agent checking
    /// one replica's key set refused the others' assertions.
    static func loadOrCreate(directory: String, now: Double) throws(Failure) -> [StoredKey] {
        var directory = directory
        while directory.utf8.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        try ensureDirectory(directory)
        // Best effort: a directory that cannot be opened or locked is read as it is.
        let lock = open(directory, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        if lock >= 0 {
            while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { if lock >= 0 { close(lock) } }  // closing releases the lock
        var keys = try load(directory)
        if keys.isEmpty {
            keys = [try create(in: directory, now: now)]
        }
        return keys
    }

    private static func ensureDirectory(_ directory: String) throws(Failure) {
        do {
            try PrivateFile.ensureDirectory(directory)
        } catch {
            throw Failure(description: "key directory: \(error.description)")
        }
    }

    private static func load(_ directory: String) throws(Failure) -> [StoredKey] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw Failure(description: "cannot list key directory \(directory): \(error)")
        }
        var keys: [StoredKey] = []
        for name in names where name.hasSuffix(".pem") && !name.hasPrefix(".") {
            let path = directory + "/" + name
            let pem: String
            do {
                pem = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw Failure(description: "cannot read key file \(path): \(error)")
            }
            guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
                throw Failure(description: "\(path) is not a P-256 private key in PEM")
            }
            let kid = String(name.dropLast(4))
            keys.append(StoredKey(kid: kid, createdAt: createdAt(kid), key: key))
        }
        return keys.sorted { ($0.createdAt, $0.kid) < ($1.createdAt, $1.kid) }
    }

    /// The creation time encoded at the start of a kid; 0 for names we did not write.
    static func createdAt(_ kid: String) -> Int64 {
        Int64(kid.prefix { $0 != "-" }) ?? 0
    }

    private static func create(in directory: String, now: Double) throws(Failure) -> StoredKey {
        let key = P256.Signing.PrivateKey()
        var random = SystemRandomNumberGenerator()
        let suffix = String(UInt32.random(in: .min ... .max, using: &random), radix: 16)
        let createdAt = Int64(now)
        let kid = "\(createdAt)-\(String(repeating: "0", count: 8 - suffix.count))\(suffix)"
        let finalPath = directory + "/" + kid + ".pem"
        let tempPath = directory + "/." + kid + ".pem.tmp"
        try writeNew(tempPath, Array(key.pemRepresentation.utf8))
        guard rename(tempPath, finalPath) == 0 else {
            let code = errno
            unlink(tempPath)
            throw Failure(description: "cannot create \(finalPath): \(String(cString: strerror(code)))")
        }
        return StoredKey(kid: kid, createdAt: createdAt, key: key)
    }

    private static func writeNew(_ path: String, _ bytes: [UInt8]) throws(Failure) {
        do {
            try PrivateFile.createNew(path, bytes)
        } catch {
            throw Failure(description: error.description)
        }
    }
}
