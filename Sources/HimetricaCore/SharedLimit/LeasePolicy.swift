import HimetricaRules

/// How a sender limits itself while Redis is away (`shared_limit_fallback`).
public enum SharedLimitFallback: String, Sendable, CaseIterable {
    /// Its share of the limit: `count / live senders`, the senders learnt from the heartbeats
    /// while Redis was up (1 if it never was).
    case share
    /// Additive increase, multiplicative decrease: starts at the share, halves at each 429,
    /// and grows by a tenth of the limit for each window without one.
    case aimd
}

/// The numbers of permit leasing, in one place. Pure.
enum LeasePlan {
    /// A leased permit must be used (its request sent) within this long of asking for it;
    /// later it is thrown away, not hoarded.
    static let leaseLifetime: UInt64 = 100_000_000
    /// How long a sender stays counted as live after its last heartbeat (every lease is one).
    static let heartbeatLifetime: UInt64 = 30_000_000_000
    /// A sender that has not leased for this long (a third of the lifetime) sends a heartbeat
    /// alone: rare while it sends, so heartbeats cost few round trips.
    static let heartbeatInterval: UInt64 = 10_000_000_000
    /// The most permits asked for in one round trip.
    static let maxBatch = 8

    /// The window the script counts grants in, in ms, for a server window of `window` ns.
    ///
    /// A permit granted at Redis time g is used at some u in [g, g + leaseLifetime] and
    /// arrives at the server at u plus a network delay that varies by at most the local
    /// limiter's margin. So two requests in one server window of length W were granted less
    /// than W + leaseLifetime + margin apart: counting grants over that longer window keeps
    /// every server window at COUNT or less.
    static func scriptWindowMilliseconds(window: UInt64) -> Int {
        Int((window + leaseLifetime + SlidingWindowLimiter.margin + 999_999) / 1_000_000)
    }

    /// How many permits to ask for: what can be used at once, at most `maxBatch`, and at most
    /// half a live sender's share of the limit, so that no one sender takes a window's permits.
    static func want(demand: Int, count: Int, senders: Int) -> Int {
        guard demand > 0 else { return 0 }
        return min(demand, maxBatch, max(1, count / (2 * max(1, senders))))
    }

    /// The fallback's limit: the share of `count` each of `senders` live senders may send.
    static func share(count: Int, senders: Int) -> Int { max(1, count / max(1, senders)) }
}

/// When to try Redis again after a failure: exponential from 100 ms to 2 s, with jitter (half
/// fixed, half random) so hosts that lost Redis together do not come back together.
struct ReconnectBackoff {
    static let first: UInt64 = 100_000_000
    /// Low enough that shared permits resume within a few seconds of Redis's return; one
    /// attempt costs the limiter's thread at most the timeout, and nobody else anything.
    static let ceiling: UInt64 = 2_000_000_000
    private var next = first

    /// The wait before the next attempt; each call doubles the one after.
    mutating func delay(using rng: inout some RandomNumberGenerator) -> UInt64 {
        let ceiling = next
        next = min(next * 2, Self.ceiling)
        return ceiling / 2 + UInt64.random(in: 0...(ceiling / 2), using: &rng)
    }

    /// Redis answered: the next failure starts from the first delay again.
    mutating func reset() { next = Self.first }
}

/// A sliding-window limit whose count may change (the fallback's share or AIMD limit).
/// Its log also tells, on Redis's return, how many requests left without a shared permit in
/// the last window, so the script can count them.
struct FallbackLimiter {
    let maximum: Int
    let window: UInt64
    let policy: SharedLimitFallback
    private(set) var limit: Int
    private var sends = FIFO<UInt64>()
    private var lastChange: UInt64

    init(maximum: Int, window: UInt64, senders: Int, policy: SharedLimitFallback, now: UInt64) {
        self.maximum = maximum
        self.window = window
        self.policy = policy
        limit = LeasePlan.share(count: maximum, senders: senders)
        lastChange = now
    }

    /// The earliest time at or after `now` one more send is allowed.
    mutating func nextAllowed(now: UInt64) -> UInt64 {
        if policy == .aimd, now >= lastChange &+ window {
            limit = min(maximum, limit + max(1, maximum / 10))
            lastChange = now
        }
        while let oldest = sends.first, oldest &+ window &+ SlidingWindowLimiter.margin <= now { _ = sends.pop() }
        guard sends.count >= limit else { return now }
        // The send that has to leave the window before one more may go.
        let blocking = sends[offset: sends.count - limit]
        return blocking &+ window &+ SlidingWindowLimiter.margin
    }

    /// Records a send at `now`.
    mutating func record(now: UInt64) { sends.push(now) }

    /// The server answered 429: with AIMD, halve the limit.
    mutating func throttled(now: UInt64) {
        guard policy == .aimd else { return }
        limit = max(1, limit / 2)
        lastChange = now
    }

    /// How long ago (ns) each send still within the last window before `now` left.
    mutating func recentSendAges(now: UInt64) -> [UInt64] {
        _ = nextAllowed(now: now)
        return sends.drainCopy().map { now &- $0 }
    }
}

/// The scheduler's side of the shared limit, per endpoint: the permits leased from Redis and
/// not used yet, or, while Redis is away, the fallback limit. Pure: the Redis thread hands it
/// grants and mode changes; time is passed in.
///
/// Invariant: in shared mode a request leaves only with an unexpired leased permit; in
/// fallback mode only within the fallback limit. Either way the local limiter also applies.
struct SharedPermits {
    private struct Lease {
        var count: Int
        let expiresAt: UInt64
    }

    private struct PerEndpoint {
        let count: Int
        let window: UInt64
        var leases: [Lease] = []
        var fallback: FallbackLimiter?
    }

    private var endpoints: [PerEndpoint?]
    private let policy: SharedLimitFallback

    /// Shared permits for every endpoint that has a limit in `rateLimits`.
    init(rateLimits: [Endpoint: RateLimit?], policy: SharedLimitFallback) {
        endpoints = Endpoint.allCases.map { endpoint in
            (rateLimits[endpoint] ?? nil).map { PerEndpoint(count: $0.count, window: $0.window.nanoseconds) }
        }
        self.policy = policy
    }

    /// Whether Redis is away and the fallback limit applies.
    var inFallback: Bool { endpoints.contains { $0?.fallback != nil } }

    /// The earliest time a request to `endpoint` may leave as far as the shared limit goes:
    /// `now`, a later time (fallback), or `UInt64.max` until a grant arrives.
    mutating func availableAt(_ endpoint: Endpoint, now: UInt64) -> UInt64 {
        guard var state = endpoints[endpoint.rawValue] else { return now }
        defer { endpoints[endpoint.rawValue] = state }
        if state.fallback != nil { return state.fallback!.nextAllowed(now: now) }
        state.leases.removeAll { $0.expiresAt <= now || $0.count == 0 }
        return state.leases.isEmpty ? UInt64.max : now
    }

    /// A request to `endpoint` leaves now (``availableAt(_:now:)`` returned `now`). True when
    /// it used a leased permit (false: no limit, or the fallback's).
    mutating func take(_ endpoint: Endpoint, now: UInt64) -> Bool {
        guard endpoints[endpoint.rawValue] != nil else { return false }
        if endpoints[endpoint.rawValue]!.fallback != nil {
            endpoints[endpoint.rawValue]!.fallback!.record(now: now)
            return false
        }
        guard !endpoints[endpoint.rawValue]!.leases.isEmpty else { return false }
        endpoints[endpoint.rawValue]!.leases[0].count -= 1
        return true
    }

    /// How many more permits `endpoint` could use now: requests ready to leave (`ready`, at
    /// most the free in-flight slots) beyond the permits held. Zero in fallback mode.
    mutating func demand(_ endpoint: Endpoint, ready: Int, now: UInt64) -> Int {
        guard var state = endpoints[endpoint.rawValue], state.fallback == nil else { return 0 }
        state.leases.removeAll { $0.expiresAt <= now || $0.count == 0 }
        endpoints[endpoint.rawValue] = state
        return max(0, ready - state.leases.reduce(0) { $0 + $1.count })
    }

    /// Redis granted `count` permits for `endpoint`, usable until `expiresAt`.
    mutating func grant(_ endpoint: Endpoint, count: Int, expiresAt: UInt64) {
        guard count > 0, endpoints[endpoint.rawValue] != nil else { return }
        endpoints[endpoint.rawValue]!.leases.append(Lease(count: count, expiresAt: expiresAt))
    }

    /// Redis is away: each endpoint keeps to its fallback limit, sized for `senders`.
    mutating func fallBack(senders: Int, now: UInt64) {
        for index in endpoints.indices {
            guard let state = endpoints[index], state.fallback == nil else { continue }
            endpoints[index]!.leases = []
            endpoints[index]!.fallback = FallbackLimiter(
                maximum: state.count, window: state.window, senders: senders, policy: policy, now: now)
        }
    }

    /// Redis is back: shared permits again. Returns, per endpoint, the ages (ns) of the
    /// requests sent under the fallback within the last window, for the script to count.
    mutating func resume(now: UInt64) -> [[UInt64]] {
        endpoints.indices.map { index in
            guard var state = endpoints[index], var fallback = state.fallback else { return [] }
            let recent = fallback.recentSendAges(now: now)
            state.fallback = nil
            endpoints[index] = state
            return recent
        }
    }

    /// The server answered 429 for `endpoint` (AIMD halves its fallback limit).
    mutating func throttled(_ endpoint: Endpoint, now: UInt64) {
        endpoints[endpoint.rawValue]?.fallback?.throttled(now: now)
    }
}
