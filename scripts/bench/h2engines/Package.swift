// swift-tools-version:6.0
import PackageDescription

// The two candidate HTTP/2 layers for Gatehouse's data plane, each driven at the frame/stream
// level with the same client bytes and answering every stream the same way, so that their cost
// per request can be compared (scripts/bench/h2engines/run.sh; BENCHMARKS.md).
let package = Package(
    name: "h2engines",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .executableTarget(
            name: "h2engines",
            dependencies: [
                "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
