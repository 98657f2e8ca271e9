// swift-tools-version:6.1
import PackageDescription

// Dependencies are kept deliberately few: every package here is rebuilt from scratch by CI.
// JWT verification, the HTTP client used for IdP URLs, the admin router and the Prometheus
// exposition are small enough to own, and owning them keeps the security rules visible.
let package = Package(
    name: "gatehouse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"]),
        // Libraries for the benchmark package in Benchmarks/ (built only when asked for).
        .library(name: "GatehouseCore", targets: ["GatehouseCore"]),
        .library(name: "GatehouseConfig", targets: ["GatehouseConfig"]),
        .library(name: "GatehouseIdentity", targets: ["GatehouseIdentity"]),
        .library(name: "GatehouseSessions", targets: ["GatehouseSessions"]),
        .library(name: "GatehouseProxy", targets: ["GatehouseProxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // OpenTelemetry tracing (docs/observability.md "Traces"): the tracing API the data plane
        // writes spans with, and the OTLP/HTTP exporter behind it (its gRPC exporter is not built).
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // Runs (and gracefully stops, flushing) the exporter's background work; swift-otel's own dependency.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Value types shared by every layer. No I/O.
        .target(
            name: "GatehouseCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // YAML files -> one validated, immutable snapshot.
        .target(
            name: "GatehouseConfig",
            dependencies: [
                "GatehouseCore",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Small HTTP/1.1 server and guarded client on SwiftNIO (admin, demo, IdP fetches).
        .target(
            name: "GatehouseHTTP",
            dependencies: [
                "GatehouseCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Key sets, token verification, verified-token cache, assertion signing.
        .target(
            name: "GatehouseIdentity",
            dependencies: [
                "GatehouseCore",
                "GatehouseHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The system SQLite library (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The system nghttp2 library (Debian: libnghttp2-dev): the data plane's HTTP/2 layer.
        .systemLibrary(name: "CNGHTTP2", path: "Sources/CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // The session-binding table, OAuth flow bindings, and the store behind them.
        .target(
            name: "GatehouseSessions",
            dependencies: [
                "GatehouseCore", "GatehouseHTTP", "CSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The PostgreSQL store (`store: postgres://…`): shared state for several replicas.
        .target(
            name: "GatehousePostgres",
            dependencies: [
                "GatehouseCore", "GatehouseSessions",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The data plane: HTTP/1.1 at byte level on both sides (no HTTP codec), HTTP/2 (libnghttp2)
        // streams driving the same exchange.
        .target(
            name: "GatehouseProxy",
            dependencies: [
                "GatehouseCore",
                "GatehouseIdentity",
                "GatehouseSessions",
                "GatehouseHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                "CNGHTTP2",
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The admin listener: health, readiness, metrics (and the admin API).
        .target(
            name: "GatehouseAdmin",
            dependencies: [
                "GatehouseCore", "GatehouseHTTP", "GatehouseConfig", "GatehouseIdentity", "GatehouseSessions",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("openapi.json")]
        ),
        // The composition root: one running Gatehouse (data plane, admin, background work).
        .target(
            name: "GatehouseApp",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "GatehouseIdentity", "GatehouseHTTP", "GatehouseProxy", "GatehouseAdmin",
                "GatehouseSessions", "GatehousePostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `gatehouse demo`: development IdP and echo agents.
        .target(
            name: "GatehouseDemo",
            dependencies: [
                "GatehouseCore", "GatehouseHTTP", "GatehouseIdentity", "GatehouseProxy", "GatehouseAdmin", "GatehouseConfig", "GatehouseApp",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "GatehouseProxy", "GatehouseAdmin", "GatehouseDemo", "GatehouseIdentity", "GatehouseHTTP", "GatehouseApp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "GatehouseCoreTests", dependencies: ["GatehouseCore"]),
        .testTarget(name: "GatehouseSessionsTests", dependencies: ["GatehouseSessions"]),
        .testTarget(
            name: "GatehousePostgresTests",
            dependencies: [
                "GatehousePostgres", "GatehouseSessions", "GatehouseCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "GatehouseHTTPTests", dependencies: ["GatehouseHTTP", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "GatehouseConfigTests", dependencies: ["GatehouseConfig"]),
        // The data plane without sockets: parsers, the connection state machine, the handlers
        // over EmbeddedChannel. NIOHTTP1 is here only as the reference for the differential test.
        .testTarget(
            name: "GatehouseProxyTests",
            dependencies: [
                "GatehouseProxy", "GatehouseCore", "GatehouseIdentity", "GatehouseSessions",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "GatehouseIdentityTests",
            dependencies: [
                "GatehouseIdentity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "GatehouseIntegrationTests",
            dependencies: [
                "GatehouseProxy", "GatehouseAdmin", "GatehouseDemo", "GatehouseHTTP", "GatehouseIdentity", "GatehouseConfig", "GatehouseApp",
                "GatehouseSessions", "GatehousePostgres",
                // Built so that the CLI tests can run the real binary.
                "gatehouse",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                // The deploy/ files are checked by parsing them.
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
