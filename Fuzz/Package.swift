// swift-tools-version:6.0
import PackageDescription

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// libFuzzer targets for the parsers that stand in front of the identity check, in their own
// package so that building or testing the main package never builds them. Built and run by
// `scripts/fuzz.sh` (with `-sanitize=fuzzer,address`); docs/fuzzing.md says how to read a finding.

// SwiftPM names a path dependency after its folder, so the main package's identity is
// whatever the clone's folder is called.
let gatehouse = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

func fuzzTarget(_ name: String, _ product: String) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzDriver", .product(name: product, package: gatehouse)], path: "Sources/\(name)")
}

let package = Package(
    name: "GatehouseFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        fuzzTarget("FuzzRequestHead", "GatehouseProxy"),
        fuzzTarget("FuzzResponseHead", "GatehouseProxy"),
        fuzzTarget("FuzzChunkedBody", "GatehouseProxy"),
        fuzzTarget("FuzzHTTP2Requests", "GatehouseProxy"),
        fuzzTarget("FuzzCompactJWS", "GatehouseIdentity"),
        fuzzTarget("FuzzClaimPath", "GatehouseIdentity"),
    ],
    swiftLanguageModes: [.v6]
)
