#if DevServer  // a package trait (Package.swift)
/// The three rate-limited endpoints of the Server API.
public enum Endpoint: String, CaseIterable, Sendable, Codable {
    case track
    case identify
    case userId = "user-id"
}

/// A rate limit: at most `count` accepted requests in any window of `seconds`.
public struct RateLimit: Sendable, Equatable {
    /// Accepted requests allowed in any window.
    public var count: Int
    /// The window's length in seconds.
    public var seconds: Double

    /// `count` requests per `seconds`.
    public init(count: Int, seconds: Double) {
        self.count = count
        self.seconds = seconds
    }

    /// Parses `COUNT/SECONDS` (e.g. `20/2`, `3/0.5`).
    public init?(spec: some StringProtocol) {
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[0]), count > 0,
            let seconds = Double(parts[1]), seconds > 0, seconds.isFinite
        else { return nil }
        self.init(count: count, seconds: seconds)
    }

    /// The Server API's documented defaults.
    public static let defaults: [Endpoint: RateLimit] = [
        .track: RateLimit(count: 1000, seconds: 60),
        .identify: RateLimit(count: 500, seconds: 60),
        .userId: RateLimit(count: 100, seconds: 60),
    ]
}

/// Everything the dev server is configured with at start.
public struct DevServerOptions: Sendable {
    /// The key used when none is configured.
    public static let defaultDevKey = "hm_sk_dev_local_0000000000000000"
    /// Request bodies above this many bytes are refused with 413.
    public static let bodyCap = 64 * 1024

    /// Address to bind (default 127.0.0.1).
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one.
    public var port = 8787
    /// Accepted `X-API-Key` values.
    public var keys: [String] = [DevServerOptions.defaultDevKey]
    /// Create visitors on first sight of their visitorId (off: unknown visitorIds get 404).
    public var autoCreateVisitors = true
    /// Limits per endpoint; a missing endpoint is unlimited.
    public var limits: [Endpoint: RateLimit] = RateLimit.defaults
    /// Apply the 10 events/min per-visitor custom-event limit (drops answered 202, not recorded).
    public var perVisitorLimit = false
    /// Fault injection settings at start.
    public var faults = FaultSettings()
    /// File the state is loaded from at start and saved to on changes; nil keeps state in memory only.
    public var stateFile: String?
    /// The inspection logs (events, requests) keep at most this many newest entries.
    public var maxLogEntries = 100_000

    /// The defaults: loopback port 8787, the development key, the documented limits, no faults.
    public init() {}

    /// True when `host` is a loopback address, where `/_dev/*` and the page are served.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// A latency range in milliseconds, `min...max` (equal for a fixed latency).
public struct LatencyRange: Sendable, Equatable {
    /// The least added latency, ms.
    public var min: Int
    /// The most added latency, ms.
    public var max: Int

    /// Latency drawn from `min...max` ms.
    public init(min: Int, max: Int) {
        self.min = min
        self.max = max
    }

    /// Parses `100` or `50-150`.
    public init?(spec: some StringProtocol) {
        let parts = spec.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let low = Int(parts[0]), let high = Int(parts[parts.count - 1]),
            low >= 0, high >= low
        else { return nil }
        self.init(min: low, max: high)
    }
}
#endif
