import HimetricaRules
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many requests an endpoint may receive in a window, as the server counts them.
public struct RateLimit: Sendable, Hashable {
    /// Requests allowed in any window.
    public var count: Int
    /// The window's length.
    public var window: Duration

    /// `count` requests per `window`.
    public init(count: Int, window: Duration) {
        self.count = count
        self.window = window
    }

    /// The documented limit of `endpoint` (1000/min track, 500/min identify, 100/min user-id).
    public static func documented(_ endpoint: Endpoint) -> RateLimit {
        RateLimit(count: endpoint.documentedLimitPerMinute, window: .seconds(60))
    }
}

/// Everything a client can be configured with. Every field has a documented default, so
/// `Configuration()` is ready for production use with a secret key. Swift code names it
/// `HimetricaClient.Configuration`; time options are `Duration`s (C, Python and the CLI give
/// them as seconds through ``set(option:value:)``).
public struct Configuration: Sendable {
    /// The Server API's base URL. Default `https://app.himetrica.com/api/v1`.
    public var endpoint: String = "https://app.himetrica.com/api/v1"
    /// The most track and identify requests held (waiting or in flight). Default 10,000.
    /// A call beyond it fails with ``HimetricaError/queueFull``.
    public var queueCapacity: Int = 10_000
    /// Requests in flight at once, over reused connections. Default 8.
    public var maxInFlight: Int = 8
    /// The per-endpoint limits the client keeps to; nil for an endpoint means no limit.
    /// Default: the documented limits.
    public var rateLimits: [Endpoint: RateLimit?] = Dictionary(
        uniqueKeysWithValues: Endpoint.allCases.map { ($0, RateLimit.documented($0)) })
    /// The most attempts per request, the first included. Default 10.
    public var maxAttempts: Int = 10
    /// The oldest a request may be and still be retried. Default 600 s.
    public var maxRetryAge: Duration = .seconds(600)
    /// The first retry waits up to this long; each later one doubles it. Default 0.25 s.
    public var retryBaseDelay: Duration = .milliseconds(250)
    /// The longest backoff ceiling. Default 30 s.
    public var retryMaxDelay: Duration = .seconds(30)
    /// Time allowed to open a connection. Default 5 s.
    public var connectTimeout: Duration = .seconds(5)
    /// Time allowed for a whole request. Default 10 s.
    public var requestTimeout: Duration = .seconds(10)
    /// How long the flush at process exit may take. Default 2 s.
    public var exitFlushTimeout: Duration = .seconds(2)
    /// How many visitor → user id answers are remembered. Default 10,000.
    public var userIdCacheCapacity: Int = 10_000
    /// How long a "visitor not found" answer is remembered (C/Python option
    /// `not_found_cache_seconds`). Default 10 s.
    public var notFoundCacheDuration: Duration = .seconds(10)
    /// Allow `http://` to hosts other than loopback. Default false: the key only travels in TLS.
    public var allowInsecureHTTP: Bool = false
    /// A CA bundle (PEM file) to verify the server with instead of the system's.
    public var caFile: String?
    /// The largest response body read; the rest is discarded. Default 64 KiB.
    public var maxResponseBytes: Int = 64 * 1024
    /// The surface using the engine (`swift`, `c`, `python`, `node`, `cli`), for `User-Agent`.
    package var surface: String = "swift"
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
    /// Shares each endpoint's limit with every host using this key through Redis:
    /// `redis://[user:password@]host:port[/db]`. Each request then also needs a permit from
    /// Redis; when Redis is away the client keeps to ``sharedLimitFallback``. Default: the
    /// environment variable `HIMETRICA_SHARED_LIMIT`, else nil (no shared limit).
    public var sharedLimit: String? = Self.environment("HIMETRICA_SHARED_LIMIT")
    /// The local limit while Redis is away. Default ``SharedLimitFallback/share``.
    public var sharedLimitFallback: SharedLimitFallback = .share
    /// The longest a connection to Redis or one Redis command may take. Default 200 ms.
    public var sharedLimitTimeout: Duration = .milliseconds(200)
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
            ("not_found_cache_seconds", notFoundCacheDuration),
        ] {
            try check(value >= .zero && value <= .seconds(86400), name, "must be between 0 and 86400 seconds")
        }
        try check(connectTimeout > .zero, "connect_timeout", "must be more than 0 seconds")
        try check(requestTimeout > .zero, "request_timeout", "must be more than 0 seconds")
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
                limit.count >= 1 && limit.window > .zero && limit.window <= .seconds(86400),
                "rate_limit_\(endpoint.name.replacingDash)",
                "must be COUNT/SECONDS with COUNT >= 1 and 0 < SECONDS <= 86400")
        }
        _ = try BaseURL(endpoint, allowInsecureHTTP: allowInsecureHTTP)
        if let sharedLimit { _ = try RedisURL(sharedLimit) }
        try check(
            sharedLimitTimeout >= .milliseconds(1) && sharedLimitTimeout <= .seconds(60), "shared_limit_timeout",
            "must be between 0.001 and 60 seconds")
    }

    /// ``sharedLimitTimeout`` in whole milliseconds (at least 1).
    var sharedLimitTimeoutMilliseconds: Int {
        let (seconds, attoseconds) = sharedLimitTimeout.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    /// Sets an option from text, as the C, Python and Node surfaces pass them. Names are
    /// snake_case (`max_in_flight`); rate limits are `rate_limit_track` (and `_identify`,
    /// `_user_id`) with values `COUNT/SECONDS` or `none`; booleans are `true`/`false`; times
    /// are seconds (`0.25`).
    public mutating func set(option name: String, value: String) throws(ValidationError) {
        func seconds(_ field: String) throws(ValidationError) -> Duration {
            try Self.seconds(value, field: field)
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
        case "max_retry_age": maxRetryAge = try seconds(name)
        case "retry_base_delay": retryBaseDelay = try seconds(name)
        case "retry_max_delay": retryMaxDelay = try seconds(name)
        case "connect_timeout": connectTimeout = try seconds(name)
        case "request_timeout": requestTimeout = try seconds(name)
        case "exit_flush_timeout": exitFlushTimeout = try seconds(name)
        case "user_id_cache_capacity": userIdCacheCapacity = try integer(name)
        case "not_found_cache_seconds": notFoundCacheDuration = try seconds(name)
        case "max_response_bytes": maxResponseBytes = try integer(name)
        case "ca_file": caFile = value.isEmpty ? nil : value
        case "spool": spool = value.isEmpty ? nil : value
        case "spool_commit_interval": spoolCommitInterval = try seconds(name)
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
        case "shared_limit": sharedLimit = value.isEmpty ? nil : value
        case "shared_limit_fallback":
            guard let policy = SharedLimitFallback(rawValue: value) else {
                throw ValidationError(field: name, rule: "must be share or aimd")
            }
            sharedLimitFallback = policy
        case "shared_limit_timeout": sharedLimitTimeout = try seconds(name)
        case "rate_limit_track", "rate_limit_identify", "rate_limit_user_id":
            let endpoint = Endpoint.allCases.first { "rate_limit_" + $0.name.replacingDash == name }!
            rateLimits[endpoint] = try Self.parseRateLimit(value, field: name)
        default:
            throw ValidationError(field: Self.shown(name), rule: "is not a known option")
        }
        do throws(ValidationError) {
            try validate()
        } catch {
            self = previous
            throw error
        }
    }

    /// An option name as an error message shows it. The name is the caller's text, possibly
    /// anything: control characters, quotes and backslashes are escaped and it is cut after 64
    /// characters, so a message stays one short line.
    package static func shown(_ name: String) -> String { JSONText.displayKey(name, escapingQuotes: true) }

    /// A time given in seconds as text (`0.25`), the one way C, Python and the CLI give times.
    /// Out-of-range values become durations that ``validate()`` then names.
    package static func seconds(_ text: String, field: String) throws(ValidationError) -> Duration {
        guard let value = Double(text.trimmingSpaces), value.isFinite else {
            throw ValidationError(field: field, rule: "must be a number")
        }
        // Duration(seconds:) traps beyond Int64 seconds; anything this large is out of range anyway.
        return .seconds(min(max(value, -1e15), 1e15))
    }

    private static func parseRateLimit(_ text: String, field: String) throws(ValidationError) -> RateLimit? {
        if text == "none" { return nil }
        let parts = text.split(separator: "/")
        guard parts.count == 2, let count = Int(parts[0]), let seconds = Double(parts[1]), seconds.isFinite else {
            throw ValidationError(field: field, rule: "must be COUNT/SECONDS (e.g. 1000/60) or none")
        }
        return RateLimit(count: count, window: .seconds(min(max(seconds, -1e15), 1e15)))
    }
}

extension String {
    /// `user-id` → `user_id`, for option names.
    var replacingDash: String { String(map { $0 == "-" ? "_" : $0 }) }
}
