import Foundation

/// The tenant files of a tenants directory: `*.yaml` and `*.yml`, hidden files skipped (editor
/// locks such as `.#acme.yaml`, Kubernetes' `..data` links), sorted so problems come out in a
/// stable order.
enum TenantDirectory {
    struct Entry: Equatable {
        let name: String
        /// The name without `.yaml` / `.yml`: the tenant id it must hold.
        let stem: String
        let path: String
    }

    static func isTenantFileName(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && stem(of: name) != ""
    }

    static func stem(of name: String) -> String {
        if name.hasSuffix(".yaml") { return String(name.dropLast(5)) }
        if name.hasSuffix(".yml") { return String(name.dropLast(4)) }
        return name
    }

    /// Nil when the directory cannot be listed.
    static func entries(in directory: String) -> [Entry]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue,
            let names = try? FileManager.default.contentsOfDirectory(atPath: directory)
        else { return nil }
        return names.filter(isTenantFileName).sorted().map { name in
            Entry(name: name, stem: stem(of: name), path: directory + "/" + name)
        }
    }
}
