// swift-tools-version:6.1
import PackageDescription

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Micro benchmarks for Gatehouse, in their own package so that building or testing the main
// package never fetches or builds the benchmark harness. From the repository root:
// `scripts/bench/micro.sh`. Results and how to read them: BENCHMARKS.md.

// SwiftPM names a path dependency after its folder, so the main package's identity is
// whatever the clone's folder is called.
let gatehouse = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "GatehouseBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        // The malloc interposer gives the malloc counts; the runtime interposer (ARC counts on
        // Linux with Swift 6.3) is left out: it is not needed for the metrics reported here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The benchmark plugin finds executable targets under Benchmarks/.
        .executableTarget(
            name: "GatehouseBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GatehouseCore", package: gatehouse),
                .product(name: "GatehouseIdentity", package: gatehouse),
                .product(name: "GatehouseSessions", package: gatehouse),
                .product(name: "GatehouseProxy", package: gatehouse),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/GatehouseBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
