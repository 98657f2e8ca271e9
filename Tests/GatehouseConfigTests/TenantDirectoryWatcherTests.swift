import Foundation
import Testing
@testable import GatehouseConfig

@Suite struct TenantDirectoryWatcherTests {
    @Test func quietDirectoryHasNotChanged() throws {
        let dir = try TemporaryDirectory()
        try dir.write("acme.yaml", "id: acme")
        let watcher = TenantDirectoryWatcher(directory: dir.path)
        #expect(!watcher.hasChanged())
        #expect(!watcher.hasChanged())
    }

    @Test func detectsAnAddedFileOnce() throws {
        let dir = try TemporaryDirectory()
        let watcher = TenantDirectoryWatcher(directory: dir.path)
        try dir.write("acme.yaml", "id: acme")
        #expect(watcher.hasChanged())
        #expect(!watcher.hasChanged())
    }

    @Test func detectsAModifiedFile() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("acme.yaml", "id: acme")
        let watcher = TenantDirectoryWatcher(directory: dir.path)
        // Same size, different content: the change must show through the modification time.
        try "id: acmf".write(toFile: file, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 5)], ofItemAtPath: file)
        #expect(watcher.hasChanged())
        #expect(!watcher.hasChanged())
    }

    @Test func detectsAFileReplacedByRename() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("acme.yaml", "id: acme")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        let watcher = TenantDirectoryWatcher(directory: dir.path)
        // Atomic save: a new inode with identical size and modification time.
        let temp = try dir.write(".acme.yaml.tmp", "id: acmf")
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: temp)
        #expect(rename(temp, file) == 0)
        #expect(watcher.hasChanged())
    }

    @Test func detectsADeletedFile() throws {
        let dir = try TemporaryDirectory()
        try dir.write("acme.yaml", "id: acme")
        let watcher = TenantDirectoryWatcher(directory: dir.path)
        try dir.remove("acme.yaml")
        #expect(watcher.hasChanged())
        #expect(!watcher.hasChanged())
    }

    @Test func ignoresFilesThatAreNotTenants() throws {
        let dir = try TemporaryDirectory()
        let watcher = TenantDirectoryWatcher(directory: dir.path)
        try dir.write("README.md", "docs")
        try dir.write(".acme.yaml.swp", "x")
        #expect(!watcher.hasChanged())
    }

    @Test func directoryAppearingAndDisappearingIsAChange() throws {
        let parent = try TemporaryDirectory()
        let watcher = TenantDirectoryWatcher(directory: parent.path + "/tenants")
        #expect(!watcher.hasChanged())
        try parent.write("tenants/acme.yaml", "id: acme")
        #expect(watcher.hasChanged())
        try FileManager.default.removeItem(atPath: parent.path + "/tenants")
        #expect(watcher.hasChanged())
    }
}
