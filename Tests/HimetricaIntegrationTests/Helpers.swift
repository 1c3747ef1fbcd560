import Foundation
import Himetrica
import HimetricaCore
import HimetricaRules
import Logging

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
