import Foundation
import Himetrica
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A himetrica-devserver process on a free loopback port, for one test.
final class DevServer: @unchecked Sendable {
    static let key = "hm_sk_integration_test_0001"

    let url: String
    private let process: Process

    /// The package's root directory, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Starts the server with `arguments` and waits until it listens.
    init(_ arguments: [String] = []) throws {
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
    var endpoint: String { url + "/api/v1" }

    /// A configuration pointing at this server, with `change` applied.
    func configuration(_ change: (inout Configuration) -> Void = { _ in }) -> Configuration {
        var configuration = Configuration()
        configuration.endpoint = endpoint
        configuration.logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        change(&configuration)
        return configuration
    }

    /// Accepted events and identifies, in order.
    func events() async throws -> [[String: Any]] {
        try await get("/_dev/events")["events"] as? [[String: Any]] ?? []
    }

    /// Every request that reached the API, in arrival order.
    func requests() async throws -> [[String: Any]] {
        try await get("/_dev/requests")["requests"] as? [[String: Any]] ?? []
    }

    /// Replaces the fault settings.
    func setFaults(_ faults: [String: Any]) async throws {
        var request = URLRequest(url: URL(string: url + "/_dev/faults")!)
        request.httpMethod = "PUT"
        request.httpBody = try JSONSerialization.data(withJSONObject: faults)
        _ = try await URLSession.shared.data(for: request)
    }

    private func get(_ path: String) async throws -> [String: Any] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + path)!)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

enum DevServerError: Error {
    case didNotStart
}

extension Dictionary where Key == String, Value == Any {
    /// The request body the server received.
    var body: [String: Any] { self["body"] as? [String: Any] ?? [:] }
    /// A property of the received event.
    func property(_ name: String) -> Any? { (body["properties"] as? [String: Any])?[name] }
}

/// Collects deliveries reported by the callback.
final class Deliveries: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Delivery] = []

    var all: [Delivery] { lock.withLock { items } }
    func append(_ delivery: Delivery) { lock.withLock { items.append(delivery) } }
}

/// Collects log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(Logger.Level, String)] = []

    var all: [(Logger.Level, String)] { lock.withLock { items } }
    func append(_ level: Logger.Level, _ line: String) { lock.withLock { items.append((level, line)) } }

    /// A logger writing into this collection.
    var logger: Logger {
        Logger(label: "test") { _ in Handler(lines: self) }
    }

    struct Handler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { lines.append(event.level, "\(event.message)") }
    }
}
