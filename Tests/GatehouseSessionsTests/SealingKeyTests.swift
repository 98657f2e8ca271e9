import Foundation
import GatehouseCore
import Logging
import Testing

@testable import GatehouseSessions

/// The sealing key file (`sealing_key_file`) and its check value in the store.
@Suite struct SealingKeyTests {
    final class Folder {
        let path: String

        init() throws {
            var template = Array((NSTemporaryDirectory() + "/gatehouse-sealing-XXXXXX").utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw CocoaError(.fileWriteUnknown)
            }
            path = String(cString: made)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        @discardableResult
        func write(_ name: String, _ bytes: [UInt8], mode: Int = 0o600) throws -> String {
            let file = path + "/" + name
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
            return file
        }

        func link(_ name: String, to destination: String) throws -> String {
            try FileManager.default.createSymbolicLink(atPath: path + "/" + name, withDestinationPath: destination)
            return path + "/" + name
        }
    }

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let bytes = Secrets.randomBytes(32)

    @Test func theCheckValueTellsKeysApartAndHoldsNothingOfTheKey() throws {
        let folder = try Folder()
        let a = try SealingKey.load(path: try folder.write("a.key", bytes), createIfMissing: false)
        let again = try SealingKey.load(path: try folder.write("copy.key", bytes), createIfMissing: false)
        let other = try SealingKey.load(path: try folder.write("b.key", Secrets.randomBytes(32)), createIfMissing: false)
        #expect(a.checkValue == again.checkValue, "the same key, wherever it lies")
        #expect(a.checkValue != other.checkValue)
        #expect(a.checkValue.count == 32)
        #expect(a.checkValue != bytes && !Data(a.checkValue).contains(Data(bytes.prefix(8))))
    }

    /// Kubernetes mounts a Secret's files as links into a timestamped folder behind `..data`.
    @Test func aKeyMountedAsASymlinkChainIsRead() throws {
        let folder = try Folder()
        for mode in [0o600, 0o400, 0o440] {
            let stamp = "..2026_01_01_00_00_00.\(mode)"
            try folder.write("\(stamp)/sealing.key", bytes, mode: mode)
            try? FileManager.default.removeItem(atPath: folder.path + "/..data")
            try? FileManager.default.removeItem(atPath: folder.path + "/sealing.key")
            _ = try folder.link("..data", to: stamp)
            let path = try folder.link("sealing.key", to: "..data/sealing.key")
            let key = try SealingKey.load(path: path, createIfMissing: false)
            #expect(key.bytes == bytes, "mode 0\(String(mode, radix: 8))")
        }
    }

    @Test func aKeyOthersMayReadOrAGroupMayWriteIsRefused() throws {
        let folder = try Folder()
        for mode in [0o644, 0o604, 0o660, 0o620, 0o666] {
            let path = try folder.write("k\(mode).key", bytes, mode: mode)
            #expect {
                try SealingKey.load(path: path, createIfMissing: false)
            } throws: { error in
                "\(error)".contains("must not be accessible to others") && "\(error)".contains("0\(String(mode, radix: 8))")
            }
            // Through a link the file reached is what counts.
            let link = try folder.link("link\(mode).key", to: path)
            #expect(throws: SealingKeyError.self) { try SealingKey.load(path: link, createIfMissing: false) }
        }
    }

    @Test func aConfiguredKeyThatIsMissingIsAnErrorNeverMadeUp() throws {
        let folder = try Folder()
        let path = folder.path + "/secret/sealing.key"
        #expect {
            try SealingKey.load(path: path, createIfMissing: false)
        } throws: { error in
            "\(error)".contains("does not exist") && "\(error)".contains("same file")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/secret"), "nothing was created")
        // A dangling link (a Secret not mounted yet) is missing too, and stays a link.
        let dangling = try folder.link("dangling.key", to: "..data/nowhere.key")
        #expect(throws: SealingKeyError.self) { try SealingKey.load(path: dangling, createIfMissing: false) }
        #expect(throws: SealingKeyError.self) { try SealingKey.load(path: dangling, createIfMissing: true) }
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dangling)) == "..data/nowhere.key")
    }

    @Test func theDefaultKeyIsCreatedOnceMode0600() throws {
        let folder = try Folder()
        let path = folder.path + "/keys/flow-token.key"
        let first = try SealingKey.load(path: path, createIfMissing: true)
        let second = try SealingKey.load(path: path, createIfMissing: true)
        #expect(first.bytes == second.bytes)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/keys") == ["flow-token.key"], "no temporary file left")
    }

    @Test func aKeyOfTheWrongSizeOrNotAFileIsAnError() throws {
        let folder = try Folder()
        for size in [0, 31, 33, 64] {
            let path = try folder.write("size\(size).key", Array(repeating: 1, count: size))
            #expect(throws: SealingKeyError.self) { try SealingKey.load(path: path, createIfMissing: true) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == size, "never replaced")
        }
        try FileManager.default.createDirectory(atPath: folder.path + "/dir.key", withIntermediateDirectories: true)
        #expect(throws: SealingKeyError.self) { try SealingKey.load(path: folder.path + "/dir.key", createIfMissing: false) }
    }

    @Test func theStoreKeepsTheFirstKeysCheckValueAndRefusesAnother() async throws {
        let folder = try Folder()
        let store = try SQLiteSessionStore(path: folder.path + "/state.sqlite", logger: Self.logger)
        let key = try SealingKey.load(path: try folder.write("a.key", bytes), createIfMissing: false)
        try await key.verify(against: store)
        try await key.verify(against: store)  // the same key again: fine
        let other = try SealingKey.load(path: try folder.write("b.key", Secrets.randomBytes(32)), createIfMissing: false)
        await #expect {
            try await other.verify(against: store)
        } throws: { error in
            "\(error)".contains("is not the key this store was first used with") && "\(error)".contains(other.path)
        }
        #expect(try await store.settledValue(SealingKey.checkValueName, proposing: []) == key.checkValue, "the first key's value stays")
        await store.close()
    }
}
