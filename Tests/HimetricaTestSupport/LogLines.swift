import Logging
import Synchronization

/// The lines a logger writes, collected with their levels, for tests that check what a client
/// logs. Shared by the core and integration test targets.
public final class LogLines: Sendable {
    private let lines = Mutex<[(level: Logger.Level, message: String)]>([])

    public init() {}

    /// Every line so far, in the order written.
    public var all: [(level: Logger.Level, message: String)] { lines.withLock { $0 } }

    /// The messages so far, without their levels.
    public var messages: [String] { all.map(\.message) }

    /// The messages that start with `prefix`.
    public func starting(with prefix: String) -> [String] { messages.filter { $0.hasPrefix(prefix) } }

    /// A logger (every level, trace up) writing into this collection.
    public var logger: Logger { Logger(label: "test") { _ in Handler(lines: self) } }

    /// The log handler behind ``logger``.
    public struct Handler: LogHandler {
        let lines: LogLines
        public var metadata: Logger.Metadata = [:]
        public var logLevel: Logger.Level = .trace

        public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        public func log(event: LogEvent) {
            lines.lines.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}
