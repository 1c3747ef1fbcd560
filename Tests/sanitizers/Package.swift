// swift-tools-version:6.2
//
// The core only, for the sanitizer builds (`make test-sanitizers`): the rules, the engine, the
// Swift and C surfaces and their tests, without the dev server (Hummingbird/NIO) and the CLI,
// so a TSan and an ASan build each compile a fraction of the package. `Sources` and `Tests`
// are symlinks to the package's own folders; the targets mirror ../../Package.swift.
// The integration tests talk to the normal debug build of himetrica-devserver
// (HIMETRICA_DEVSERVER).
import PackageDescription

let package = Package(
    name: "himetrica-sanitizers",
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl"),
        .target(name: "CHiredis", path: "Sources/CHiredis", linkerSettings: [.linkedLibrary(":libhiredis.a")]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3"),
        .target(name: "HimetricaRules", path: "Sources/HimetricaRules"),
        .target(
            name: "HimetricaCore", dependencies: ["HimetricaRules", "CCurl", "CHiredis", "CSQLite", .product(name: "Logging", package: "swift-log")],
            path: "Sources/HimetricaCore"),
        .target(
            name: "Himetrica",
            dependencies: [
                "HimetricaCore", "HimetricaRules", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Himetrica"),
        .target(
            name: "HimetricaTestSupport", dependencies: ["Himetrica", .product(name: "Logging", package: "swift-log")],
            path: "Tests/HimetricaTestSupport"),
        .testTarget(name: "HimetricaRulesTests", dependencies: ["HimetricaRules"], path: "Tests/HimetricaRulesTests"),
        .testTarget(name: "HimetricaCoreTests", dependencies: ["HimetricaCore", "HimetricaRules", "HimetricaTestSupport"], path: "Tests/HimetricaCoreTests"),
        .testTarget(
            name: "HimetricaIntegrationTests",
            dependencies: [
                "Himetrica", "HimetricaCore", "HimetricaRules", "HimetricaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/HimetricaIntegrationTests"),
    ]
)
