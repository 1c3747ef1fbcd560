// swift-tools-version:6.2
//
// The Himetrica server toolkit: one delivery engine (Swift, libcurl) behind a Swift API,
// a C ABI (libhimetrica), a CLI, and a local Himetrica-compatible dev server.
//
// A package that depends on this one gets only the core (`Himetrica`, `HimetricaC`: swift-log,
// swift-service-lifecycle). Everything that needs Vapor, Hummingbird or ArgumentParser sits
// behind a package trait that is off by default, and SwiftPM (6.3) neither resolves nor builds
// a dependency that only disabled traits use:
//
//     .package(url: "...", from: "0.1.0", traits: ["Vapor"])        // product HimetricaVapor
//     swift build --traits DevServer --product himetrica-devserver   // in this repository
//
// The sources behind a trait are wrapped in `#if TRAIT`. The Makefile enables every trait
// (SWIFT_TRAITS), so its builds and tests cover all of it.
import PackageDescription

/// A dependency used only when `trait` is enabled.
func product(_ name: String, _ package: String, trait: String) -> Target.Dependency {
    .product(name: name, package: package, condition: .when(traits: [trait]))
}

let package = Package(
    name: "himetrica",
    // No `platforms`: the engine, the C ABI and the CLI import Glibc and are built and tested on
    // Linux only.
    products: [
        // The Swift API.
        .library(name: "Himetrica", targets: ["Himetrica"]),
        // The C ABI. `make lib` builds it self-contained and installs it as libhimetrica.so.
        .library(name: "HimetricaC", type: .dynamic, targets: ["HimetricaC"]),
        .executable(name: "himetrica", targets: ["HimetricaCLI"]),
        // The dev server: a library (tests start it in-process) and a thin executable.
        .library(name: "HimetricaDevServer", targets: ["HimetricaDevServer"]),
        .executable(name: "himetrica-devserver", targets: ["himetrica-devserver"]),
        // Server middleware.
        .library(name: "HimetricaVapor", targets: ["HimetricaVapor"]),
        .library(name: "HimetricaHummingbird", targets: ["HimetricaHummingbird"]),
    ],
    traits: [
        .trait(name: "Vapor", description: "HimetricaVapor: the Vapor 4 middleware."),
        .trait(name: "Hummingbird", description: "HimetricaHummingbird: the Hummingbird 2 middleware."),
        .trait(name: "CLI", description: "The himetrica command (ArgumentParser)."),
        .trait(
            name: "DevServer",
            description: "himetrica-devserver, the local Himetrica-compatible server (Hummingbird, ArgumentParser)."),
        .default(enabledTraits: []),
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
        // hiredis 0.14 (Debian's libhiredis-dev) for the shared rate limit, linked statically so
        // that libhimetrica.so and Swift programs need nothing new at run time.
        .target(name: "CHiredis", linkerSettings: [.linkedLibrary(":libhiredis.a")]),
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
                "HimetricaRules", "CCurl", "CHiredis", "CSQLite",
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
                "Himetrica", "HimetricaCore", "HimetricaRules",
                product("ArgumentParser", "swift-argument-parser", trait: "CLI"),
            ]
        ),
        .target(
            name: "HimetricaDevServer",
            dependencies: [
                product("Hummingbird", "hummingbird", trait: "DevServer"),
                product("ArgumentParser", "swift-argument-parser", trait: "DevServer"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "himetrica-devserver", dependencies: ["HimetricaDevServer"]),
        // Server middleware: what both frameworks share (visitor, request tracking, the
        // per-request handle), then one thin adapter per framework.
        .target(
            name: "HimetricaServerSupport",
            dependencies: ["Himetrica", "HimetricaRules", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "HimetricaVapor",
            dependencies: [
                "Himetrica", "HimetricaCore", "HimetricaServerSupport", product("Vapor", "vapor", trait: "Vapor"),
            ]
        ),
        .target(
            name: "HimetricaHummingbird",
            dependencies: [
                "Himetrica", "HimetricaCore", "HimetricaServerSupport",
                product("Hummingbird", "hummingbird", trait: "Hummingbird"),
                product("HTTPTypes", "swift-http-types", trait: "Hummingbird"),
            ]
        ),
        .executableTarget(
            name: "himetrica-example-vapor",
            dependencies: ["HimetricaVapor", product("Vapor", "vapor", trait: "Vapor")],
            path: "examples/vapor"
        ),
        .executableTarget(
            name: "himetrica-example-hummingbird",
            dependencies: [
                "HimetricaHummingbird",
                product("Hummingbird", "hummingbird", trait: "Hummingbird"),
                product("HTTPTypes", "swift-http-types", trait: "Hummingbird"),
            ],
            path: "examples/hummingbird"
        ),

        .testTarget(name: "HimetricaRulesTests", dependencies: ["HimetricaRules"]),
        .testTarget(name: "HimetricaCoreTests", dependencies: ["HimetricaCore", "HimetricaRules", "HimetricaTestSupport"]),
        .testTarget(
            name: "HimetricaDevServerTests",
            dependencies: [
                "HimetricaDevServer",
                product("Hummingbird", "hummingbird", trait: "DevServer"),
                product("HummingbirdTesting", "hummingbird", trait: "DevServer"),
            ]
        ),
        .testTarget(
            name: "HimetricaIntegrationTests",
            dependencies: [
                "Himetrica", "HimetricaCore", "HimetricaRules", "HimetricaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What several test targets share: the dev server helper (integration and middleware
        // tests), the tracking contract and the log-line collector (core and integration tests).
        .target(
            name: "HimetricaTestSupport",
            dependencies: ["Himetrica", .product(name: "Logging", package: "swift-log")],
            path: "Tests/HimetricaTestSupport"
        ),
        // The middlewares' shared tracking rules against Tests/vectors/request-tracking.json.
        .testTarget(name: "HimetricaServerSupportTests", dependencies: ["HimetricaServerSupport", "HimetricaTestSupport"]),
        .testTarget(
            name: "HimetricaVaporTests",
            dependencies: [
                "HimetricaVapor", "HimetricaTestSupport",
                product("Vapor", "vapor", trait: "Vapor"),
                product("VaporTesting", "vapor", trait: "Vapor"),
            ]
        ),
        .testTarget(
            name: "HimetricaHummingbirdTests",
            dependencies: [
                "HimetricaHummingbird", "HimetricaTestSupport",
                product("Hummingbird", "hummingbird", trait: "Hummingbird"),
                product("HummingbirdTesting", "hummingbird", trait: "Hummingbird"),
                product("HTTPTypes", "swift-http-types", trait: "Hummingbird"),
            ]
        ),
    ]
)
