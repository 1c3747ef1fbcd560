// swift-tools-version:6.2
//
// The Himetrica server toolkit: one delivery engine (Swift, libcurl) behind a Swift API,
// a C ABI (libhimetrica), a CLI, and a local Himetrica-compatible dev server.
import PackageDescription

let package = Package(
    name: "himetrica",
    platforms: [.macOS(.v14)],
    products: [
        // The Swift API.
        .library(name: "Himetrica", targets: ["Himetrica"]),
        // The C ABI. `make lib` builds it self-contained and installs it as libhimetrica.so.
        .library(name: "HimetricaC", type: .dynamic, targets: ["HimetricaC"]),
        .executable(name: "himetrica", targets: ["HimetricaCLI"]),
        .executable(name: "himetrica-devserver", targets: ["HimetricaDevServer"]),
        // Server middleware.
        .library(name: "HimetricaVapor", targets: ["HimetricaVapor"]),
        .library(name: "HimetricaHummingbird", targets: ["HimetricaHummingbird"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0", traits: []),
    ],
    targets: [
        // libcurl, with typed wrappers for its variadic functions.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // The system's SQLite (libsqlite3.so.0), for the durable spool.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Layer 1: pure rules (identities, validation, JSON, timestamps). No I/O.
        .target(name: "HimetricaRules"),
        // Layers 2-3: the engine (queue, scheduler, limiter, retries, cache, flush thread)
        // and the libcurl transport.
        .target(
            name: "HimetricaCore",
            dependencies: [
                "HimetricaRules", "CCurl", "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Surfaces.
        .target(
            name: "Himetrica",
            dependencies: [
                "HimetricaCore", "HimetricaRules",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Opaque handle types for the C ABI.
        .target(name: "HimetricaCTypes"),
        .target(
            name: "HimetricaC",
            dependencies: [
                "HimetricaCore", "HimetricaRules", "HimetricaCTypes",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "HimetricaCLI",
            dependencies: [
                "Himetrica",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "HimetricaDevServer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Server middleware: what both frameworks share (visitor, request tracking, the
        // per-request handle), then one thin adapter per framework.
        .target(
            name: "HimetricaServerSupport",
            dependencies: ["Himetrica", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "HimetricaVapor",
            dependencies: ["HimetricaServerSupport", .product(name: "Vapor", package: "vapor")]
        ),
        .target(
            name: "HimetricaHummingbird",
            dependencies: [
                "HimetricaServerSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "himetrica-example-vapor",
            dependencies: ["HimetricaVapor", .product(name: "Vapor", package: "vapor")],
            path: "examples/vapor"
        ),
        .executableTarget(
            name: "himetrica-example-hummingbird",
            dependencies: [
                "HimetricaHummingbird",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "examples/hummingbird"
        ),

        .testTarget(name: "HimetricaRulesTests", dependencies: ["HimetricaRules"]),
        .testTarget(name: "HimetricaCoreTests", dependencies: ["HimetricaCore", "HimetricaRules"]),
        .testTarget(
            name: "HimetricaDevServerTests",
            dependencies: [
                "HimetricaDevServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "HimetricaIntegrationTests",
            dependencies: [
                "Himetrica", "HimetricaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The dev server helper the integration and middleware tests use.
        .target(
            name: "HimetricaTestSupport",
            dependencies: ["Himetrica", .product(name: "Logging", package: "swift-log")],
            path: "Tests/HimetricaTestSupport"
        ),
        .testTarget(
            name: "HimetricaVaporTests",
            dependencies: [
                "HimetricaVapor", "HimetricaTestSupport",
                .product(name: "Vapor", package: "vapor"),
                .product(name: "VaporTesting", package: "vapor"),
            ]
        ),
        .testTarget(
            name: "HimetricaHummingbirdTests",
            dependencies: [
                "HimetricaHummingbird", "HimetricaTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ]
)
