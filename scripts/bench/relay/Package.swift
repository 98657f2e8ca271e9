// swift-tools-version:6.0
import PackageDescription

// The floor of the comparison in scripts/bench/compare.sh: a SwiftNIO byte relay with no HTTP at
// all. Built only by that script (release, into scripts/bench/relay/.build).
let package = Package(
    name: "relay",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "relay",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
