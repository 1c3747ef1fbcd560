import HimetricaRules

/// How a request ended.
public enum DeliveryOutcome: Int32, Sendable, Hashable {
    /// The server answered 2xx.
    case delivered = 0
    /// The server refused it (400, 401, 403, 404, …); it was not retried.
    case rejected = 1
    /// Retries ran out of attempts or time.
    case gaveUp = 2
    /// Abandoned by `shutdown` before it could be delivered.
    case dropped = 3
}

/// A request's final outcome, given to the delivery callback.
public struct Delivery: Sendable {
    /// The endpoint it went to.
    public let endpoint: Endpoint
    /// How it ended.
    public let outcome: DeliveryOutcome
    /// The last HTTP status, or 0 if no answer came.
    public let status: Int
    /// Attempts made.
    public let attempts: Int
    /// The request body as sent (JSON).
    public let body: [UInt8]
    /// The server's error message or the transport error, when it did not succeed.
    public let message: String?
}

/// Counters of a client, readable at any time.
public struct Stats: Sendable, Hashable {
    /// Track and identify calls accepted by validation (those refused for a full queue too).
    public var queued: UInt64 = 0
    /// Requests the server accepted (2xx).
    public var delivered: UInt64 = 0
    /// Requests the server refused; never retried.
    public var rejected: UInt64 = 0
    /// Retry attempts made.
    public var retried: UInt64 = 0
    /// Requests whose retry budget ran out.
    public var gaveUp: UInt64 = 0
    /// Requests refused because the queue was full, or abandoned at shutdown.
    public var dropped: UInt64 = 0
    /// 429 answers seen.
    public var throttled: UInt64 = 0
    /// Requests being sent now.
    public var inFlight: UInt64 = 0
    /// Requests waiting to be sent.
    public var queueDepth: UInt64 = 0
    /// Requests sent with a permit from the shared limit (`shared_limit`, Redis).
    public var sharedPermits: UInt64 = 0
    /// Times Redis was lost and the shared limit fell back to a local one.
    public var sharedFallbacks: UInt64 = 0
    /// Redis calls of the shared limit that failed (connection, timeout, error answer).
    public var redisErrors: UInt64 = 0
    /// With a spool: calls this process committed to it.
    public var spooled: UInt64 = 0
    /// With a spool: bytes its files take on disk (at the last commit).
    public var spoolBytes: UInt64 = 0
    /// With a spool: requests sent again because an earlier sender died (or exited) after
    /// recording them in flight (started, or next to start): they may have arrived before
    /// (at-least-once).
    public var resent: UInt64 = 0
    /// With a spool: 1 while this process is the spool's sender, else 0.
    public var sender: UInt64 = 0
    /// With a spool: times the spool failed at run time (disk full, I/O error) and the client
    /// fell back to memory.
    public var spoolErrors: UInt64 = 0

    /// All counters at zero.
    public init() {}

    /// The counters, by their snake_case names, in a fixed order (for the C and binding
    /// surfaces).
    package var named: [(name: String, value: UInt64)] {
        [("queued", queued), ("delivered", delivered), ("rejected", rejected), ("retried", retried),
         ("gave_up", gaveUp), ("dropped", dropped), ("throttled", throttled), ("in_flight", inFlight),
         ("queue_depth", queueDepth), ("shared_permits", sharedPermits), ("shared_fallbacks", sharedFallbacks),
         ("redis_errors", redisErrors), ("spooled", spooled), ("spool_bytes", spoolBytes), ("resent", resent),
         ("sender", sender), ("spool_errors", spoolErrors)]
    }
}
