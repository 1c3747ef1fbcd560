// swift-tools-version:6.2
//
// An app outside the repository that depends on the toolkit by path and uses `Himetrica` alone,
// as a user's package would. Tests/consumer/run.sh copies it to a fresh folder, points the
// dependency at the checkout (@HIMETRICA_ROOT@, whose folder name is its package identity),
// builds it cold and runs it against a dev
// server; it fails when Vapor, Hummingbird or ArgumentParser is resolved.
import PackageDescription

let package = Package(
    name: "himetrica-consumer",
    dependencies: [.package(path: "@HIMETRICA_ROOT@")],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [.product(name: "Himetrica", package: "@HIMETRICA_IDENTITY@")],
            // Members are visible only through what the file imports: `import Himetrica` must
            // be enough for everything the public API hands out.
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
