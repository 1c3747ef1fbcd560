import Foundation
import Himetrica
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A himetrica-devserver process on a free loopback port, for one test. Shared by the
/// integration and middleware test targets.
public final class DevServer: @unchecked Sendable {
    public static let key = "hm_sk_integration_test_0001"

    public let url: String
    private let process: Process

    /// The package's root directory, found from this file's path.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Starts the server with `arguments` and waits until it listens.
    public init(_ arguments: [String] = []) throws {
        let binary = ProcessInfo.processInfo.environment["HIMETRICA_DEVSERVER"]
            ?? Self.packageRoot.appendingPathComponent(".build/debug/himetrica-devserver").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "0", "--key", Self.key] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { throw DevServerError.didNotStart }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "listening on ") else { throw DevServerError.didNotStart }
        url = String(text[range.upperBound...].prefix { !$0.isNewline })
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// The API base URL for clients.
    public var endpoint: String { url + "/api/v1" }

    /// A configuration pointing at this server, with `change` applied.
    public func configuration(_ change: (inout HimetricaClient.Configuration) -> Void = { _ in }) -> HimetricaClient.Configuration {
        var configuration = HimetricaClient.Configuration()
        configuration.endpoint = endpoint
        configuration.logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        change(&configuration)
        return configuration
    }

    /// Accepted events and identifies, in order.
    public func events() async throws -> [[String: Any]] {
        try await get("/_dev/events")["events"] as? [[String: Any]] ?? []
    }

    /// Every request that reached the API, in arrival order.
    public func requests() async throws -> [[String: Any]] {
        try await get("/_dev/requests")["requests"] as? [[String: Any]] ?? []
    }

    /// Replaces the fault settings.
    public func setFaults(_ faults: [String: Any]) async throws {
        var request = URLRequest(url: URL(string: url + "/_dev/faults")!)
        request.httpMethod = "PUT"
        request.httpBody = try JSONSerialization.data(withJSONObject: faults)
        _ = try await URLSession.shared.data(for: request)
    }

    /// A client of this server.
    public func client(_ change: (inout HimetricaClient.Configuration) -> Void = { _ in }) throws -> HimetricaClient {
        try HimetricaClient(secretKey: Self.key, configuration: configuration(change))
    }

    /// The bodies of the accepted events and identifies, in order.
    public func eventBodies() async throws -> [[String: Any]] {
        try await events().map { $0["body"] as? [String: Any] ?? [:] }
    }

    private func get(_ path: String) async throws -> [String: Any] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + path)!)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

public enum DevServerError: Error {
    case didNotStart
}

extension Dictionary where Key == String, Value == Any {
    /// A received body's properties.
    public var properties: [String: Any] { self["properties"] as? [String: Any] ?? [:] }
    /// A received body's event name.
    public var eventName: String? { self["eventName"] as? String }
}
