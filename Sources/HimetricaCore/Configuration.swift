import HimetricaRules
import Logging

/// How many requests an endpoint may receive in a window, as the server counts them.
public struct RateLimit: Sendable, Hashable {
    /// Requests allowed in any window.
    public var count: Int
    /// The window's length in seconds.
    public var seconds: Double

    /// `count` requests per `seconds`.
    public init(count: Int, seconds: Double) {
        self.count = count
        self.seconds = seconds
    }

    /// The documented limit of `endpoint` (1000/min track, 500/min identify, 100/min user-id).
    public static func documented(_ endpoint: Endpoint) -> RateLimit {
        RateLimit(count: endpoint.documentedLimitPerMinute, seconds: 60)
    }
}

/// Everything a client can be configured with. Every field has a documented default, so
/// `Configuration()` is ready for production use with a secret key.
public struct Configuration: Sendable {
    /// The Server API's base URL. Default `https://app.himetrica.com/api/v1`.
    public var endpoint: String = "https://app.himetrica.com/api/v1"
    /// The most track and identify requests held (waiting or in flight). Default 10,000.
    /// A call beyond it fails with ``EnqueueError/queueFull``.
    public var queueCapacity: Int = 10_000
    /// Requests in flight at once, over reused connections. Default 8.
    public var maxInFlight: Int = 8
    /// The per-endpoint limits the client keeps to; nil for an endpoint means no limit.
    /// Default: the documented limits.
    public var rateLimits: [Endpoint: RateLimit?] = Dictionary(
        uniqueKeysWithValues: Endpoint.allCases.map { ($0, RateLimit.documented($0)) })
    /// The most attempts per request, the first included. Default 10.
    public var maxAttempts: Int = 10
    /// The oldest a request may be and still be retried, in seconds. Default 600.
    public var maxRetryAge: Double = 600
    /// The first retry waits up to this many seconds; each later one doubles it. Default 0.25.
    public var retryBaseDelay: Double = 0.25
    /// The longest backoff ceiling, in seconds. Default 30.
    public var retryMaxDelay: Double = 30
    /// Seconds allowed to open a connection. Default 5.
    public var connectTimeout: Double = 5
    /// Seconds allowed for a whole request. Default 10.
    public var requestTimeout: Double = 10
    /// How long ``Engine/flush(timeout:)`` may take when the process exits. Default 2 s.
    public var exitFlushTimeout: Double = 2
    /// How many visitor → user id answers are remembered. Default 10,000.
    public var userIdCacheCapacity: Int = 10_000
    /// How long a "visitor not found" answer is remembered, in seconds. Default 10.
    public var notFoundCacheSeconds: Double = 10
    /// Allow `http://` to hosts other than loopback. Default false: the key only travels in TLS.
    public var allowInsecureHTTP: Bool = false
    /// A CA bundle (PEM file) to verify the server with instead of the system's.
    public var caFile: String?
    /// The largest response body read; the rest is discarded. Default 64 KiB.
    public var maxResponseBytes: Int = 64 * 1024
    /// The surface using the engine (`swift`, `c`, `python`, `node`, `cli`), for `User-Agent`.
    public var surface: String = "swift"
    /// A directory for the durable spool, shared by the host's processes: accepted calls are
    /// committed there and delivered across exits, crashes and restarts, by one sending process
    /// at a time. nil (the default): requests are held in memory only.
    public var spool: String?
    /// The longest a call waits before the flush thread commits it to the spool (one
    /// transaction per interval): what a SIGKILL may lose. Default 10 ms.
    public var spoolCommitInterval: Duration = .milliseconds(10)
    /// Whether each spool commit is fsynced (`.full`, survives power loss) or not (`.normal`,
    /// survives a crash of the process). Default `.normal`.
    public var spoolSync: SpoolSync = .normal
    /// The most bytes the spool's files may take; past it, calls fail with
    /// ``HimetricaError/queueFull`` and count as dropped. Default 256 MiB.
    public var spoolMaxBytes: Int = 256 << 20
    /// Where log lines go. Default: swift-log's `Logger(label: "himetrica")`.
    public var logger: Logger = Logger(label: "himetrica")
    /// Called on the flush thread with each request's final outcome. Keep it short; it cannot
    /// stop or slow delivery beyond its own run time.
    public var onDelivery: (@Sendable (Delivery) -> Void)?

    /// The defaults.
    public init() {}

    /// Checks every value, naming the option and the rule when one is out of range.
    public func validate() throws(ValidationError) {
        func check(_ ok: Bool, _ field: String, _ rule: String) throws(ValidationError) {
            if !ok { throw ValidationError(field: field, rule: rule) }
        }
        try check((1...1_000_000).contains(queueCapacity), "queue_capacity", "must be between 1 and 1000000")
        try check((1...256).contains(maxInFlight), "max_in_flight", "must be between 1 and 256")
        try check((1...100).contains(maxAttempts), "max_attempts", "must be between 1 and 100")
        for (name, value) in [
            ("max_retry_age", maxRetryAge), ("retry_base_delay", retryBaseDelay),
            ("retry_max_delay", retryMaxDelay), ("connect_timeout", connectTimeout),
            ("request_timeout", requestTimeout), ("exit_flush_timeout", exitFlushTimeout),
            ("not_found_cache_seconds", notFoundCacheSeconds),
        ] {
            try check(value.isFinite && value >= 0 && value <= 86400, name, "must be between 0 and 86400 seconds")
        }
        try check(connectTimeout > 0, "connect_timeout", "must be more than 0 seconds")
        try check(requestTimeout > 0, "request_timeout", "must be more than 0 seconds")
        try check((0...10_000_000).contains(userIdCacheCapacity), "user_id_cache_capacity", "must be between 0 and 10000000")
        try check(
            spoolCommitInterval >= .zero && spoolCommitInterval <= .seconds(10), "spool_commit_interval",
            "must be between 0 and 10 seconds")
        try check((65536...(1 << 50)).contains(spoolMaxBytes), "spool_max_bytes", "must be between 65536 and 1125899906842624")
        try check(spool.map { !$0.isEmpty } ?? true, "spool", "must not be empty (leave it unset for no spool)")
        try check((1024...(64 << 20)).contains(maxResponseBytes), "max_response_bytes", "must be between 1024 and 67108864")
        for (endpoint, limit) in rateLimits {
            guard let limit else { continue }
            try check(
                limit.count >= 1 && limit.seconds.isFinite && limit.seconds > 0 && limit.seconds <= 86400,
                "rate_limit_\(endpoint.name.replacingDash)",
                "must be COUNT/SECONDS with COUNT >= 1 and 0 < SECONDS <= 86400")
        }
        _ = try BaseURL(endpoint, allowInsecureHTTP: allowInsecureHTTP)
    }

    /// Sets an option from text, as the C, Python and Node surfaces pass them. Names are
    /// snake_case (`max_in_flight`); rate limits are `rate_limit_track` (and `_identify`,
    /// `_user_id`) with values `COUNT/SECONDS` or `none`; booleans are `true`/`false`.
    public mutating func set(option name: String, value: String) throws(ValidationError) {
        func number(_ field: String) throws(ValidationError) -> Double {
            guard let v = Double(value.trimmingSpaces), v.isFinite else {
                throw ValidationError(field: field, rule: "must be a number")
            }
            return v
        }
        func integer(_ field: String) throws(ValidationError) -> Int {
            guard let v = Int(value.trimmingSpaces) else { throw ValidationError(field: field, rule: "must be an integer") }
            return v
        }
        let previous = self
        switch name {
        case "endpoint": endpoint = value
        case "queue_capacity": queueCapacity = try integer(name)
        case "max_in_flight": maxInFlight = try integer(name)
        case "max_attempts": maxAttempts = try integer(name)
        case "max_retry_age": maxRetryAge = try number(name)
        case "retry_base_delay": retryBaseDelay = try number(name)
        case "retry_max_delay": retryMaxDelay = try number(name)
        case "connect_timeout": connectTimeout = try number(name)
        case "request_timeout": requestTimeout = try number(name)
        case "exit_flush_timeout": exitFlushTimeout = try number(name)
        case "user_id_cache_capacity": userIdCacheCapacity = try integer(name)
        case "not_found_cache_seconds": notFoundCacheSeconds = try number(name)
        case "max_response_bytes": maxResponseBytes = try integer(name)
        case "ca_file": caFile = value.isEmpty ? nil : value
        case "spool": spool = value.isEmpty ? nil : value
        case "spool_commit_interval":
            let seconds = try number(name)
            guard (0...10).contains(seconds) else { throw ValidationError(field: name, rule: "must be between 0 and 10 seconds") }
            spoolCommitInterval = .nanoseconds(Int64(seconds * 1e9))
        case "spool_sync":
            guard let sync = SpoolSync(rawValue: value) else { throw ValidationError(field: name, rule: "must be normal or full") }
            spoolSync = sync
        case "spool_max_bytes": spoolMaxBytes = try integer(name)
        case "allow_insecure_http":
            switch value {
            case "true", "1": allowInsecureHTTP = true
            case "false", "0": allowInsecureHTTP = false
            default: throw ValidationError(field: name, rule: "must be true or false")
            }
        case "rate_limit_track", "rate_limit_identify", "rate_limit_user_id":
            let endpoint = Endpoint.allCases.first { "rate_limit_" + $0.name.replacingDash == name }!
            rateLimits[endpoint] = try Self.parseRateLimit(value, field: name)
        default:
            throw ValidationError(field: name, rule: "is not a known option")
        }
        do throws(ValidationError) {
            try validate()
        } catch {
            self = previous
            throw error
        }
    }

    private static func parseRateLimit(_ text: String, field: String) throws(ValidationError) -> RateLimit? {
        if text == "none" { return nil }
        let parts = text.split(separator: "/")
        guard parts.count == 2, let count = Int(parts[0]), let seconds = Double(parts[1]) else {
            throw ValidationError(field: field, rule: "must be COUNT/SECONDS (e.g. 1000/60) or none")
        }
        return RateLimit(count: count, seconds: seconds)
    }
}

extension String {
    /// `user-id` → `user_id`, for option names.
    var replacingDash: String { String(map { $0 == "-" ? "_" : $0 }) }
}
