import Foundation

/// Path arithmetic for config files. Relative paths in `gatehouse.yaml` (and in the environment
/// overrides) are relative to the config file's folder (docs/configuration.md), never to the working directory
/// the process happens to start in.
enum FilePaths {
    static func currentDirectory() -> String { FileManager.default.currentDirectoryPath }

    /// `path` made absolute against `base` (itself absolute), with `.` and `..` segments removed.
    static func absolute(_ path: String, relativeTo base: String) -> String {
        normalize(path.hasPrefix("/") ? path : base + "/" + path)
    }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(segment)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// How a file is named in problems: relative to `base` when it lies under it, else absolute.
    static func display(_ path: String, relativeTo base: String) -> String {
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    enum ReadFailure: Error {
        case notFound
        case notAFile
        case tooLarge(Int)
        case notUTF8
        case unreadable
    }

    /// Reads a small UTF-8 text file, refusing anything over `maxBytes` before reading it.
    static func readText(_ path: String, maxBytes: Int) -> Result<String, ReadFailure> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .failure(.notFound) }
        guard !isDirectory.boolValue else { return .failure(.notAFile) }
        guard let handle = FileHandle(forReadingAtPath: path) else { return .failure(.unreadable) }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            return .failure(.unreadable)
        }
        guard data.count <= maxBytes else { return .failure(.tooLarge(maxBytes)) }
        guard let text = String(data: data, encoding: .utf8) else { return .failure(.notUTF8) }
        return .success(text)
    }
}

extension FilePaths.ReadFailure: CustomStringConvertible {
    var description: String {
        switch self {
        case .notFound: "file not found"
        case .notAFile: "is a directory, not a file"
        case .tooLarge(let max): "file is larger than \(max) bytes"
        case .notUTF8: "file is not valid UTF-8"
        case .unreadable: "file cannot be read"
        }
    }
}
