import HimetricaRules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a spool holds, for operators (`himetrica spool status`). Reading it is safe while
/// applications use the spool: it is one read transaction, and the sender is asked of the OS.
package struct SpoolStatus: Sendable {
    /// Requests waiting for one endpoint and key.
    package struct Waiting: Sendable, Hashable {
        /// The endpoint they go to.
        package let endpoint: Endpoint
        /// ``SecretKey/fingerprint(_:)`` of the key they are sent with.
        package let fingerprint: String
        /// How many wait.
        package let count: Int
        /// Seconds since the oldest was accepted.
        package let oldestAgeSeconds: Double
    }

    /// The spool's directory.
    package let path: String
    /// Per endpoint and key, in that order.
    package let waiting: [Waiting]
    /// Bytes the spool's files take.
    package let bytes: Int64
    /// The process sending now, if any.
    package let senderPid: Int32?

    /// Reads the spool in `path` (creating an empty one if there is none).
    ///
    /// - Throws: ``ValidationError`` for field `spool`, naming the path and the cause.
    package init(path: String) throws(ValidationError) {
        do throws(SpoolError) {
            let store = try SQLiteSpool(directory: path)
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let unix = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
            self.path = path
            waiting = try store.summaries().map {
                Waiting(
                    endpoint: $0.endpoint, fingerprint: $0.fingerprint, count: $0.count,
                    oldestAgeSeconds: Double(max(unix - $0.oldest, 0)) / 1000)
            }
            bytes = store.bytes()
            senderPid = store.senderPid()
        } catch {
            throw ValidationError(field: "spool", rule: error.message)
        }
    }

    /// Requests waiting for `key` (any endpoint).
    package func count(forKey key: String) -> Int {
        let fingerprint = SecretKey.fingerprint(key)
        return waiting.filter { $0.fingerprint == fingerprint }.reduce(0) { $0 + $1.count }
    }
}
