#if DevServer  // a package trait (Package.swift)
import Synchronization

/// The outcome of asking the limiter for a slot, with what the `X-RateLimit-*` headers show.
struct RateDecision: Sendable {
    let allowed: Bool
    let limit: Int
    let remaining: Int
    /// Unix seconds (rounded up) when the next slot frees.
    let reset: Int
    /// Whole seconds (rounded up) until a slot frees; meaningful when refused.
    let retryAfter: Int
}

/// One endpoint's limit and how many requests each key has accepted in the window ending now.
struct WindowUsage: Sendable {
    let limit: RateLimit
    var accepted: [(apiKey: String, count: Int)]
}

/// An exact sliding-window limiter per (key, endpoint): it keeps the times of accepted requests
/// and accepts a new one only while fewer than `count` lie within the last `seconds`. So no
/// window of that length ever holds more than `count` accepted requests. Refused requests are
/// not recorded.
final class RateLimiter: Sendable {
    /// The accepted-request times of one bucket, oldest first, as a ring.
    private struct Log {
        var times: [Double] = []
        var head = 0

        var count: Int { times.count - head }

        /// How many kept entries lie after `cutoff` (entries are in time order, so a binary search).
        func count(after cutoff: Double) -> Int {
            var low = head, high = times.count
            while low < high {
                let mid = (low + high) / 2
                if times[mid] <= cutoff { low = mid + 1 } else { high = mid }
            }
            return times.count - low
        }

        /// Forgets entries at or before `cutoff`, compacting storage now and then.
        mutating func expire(before cutoff: Double) {
            while head < times.count, times[head] <= cutoff { head += 1 }
            if head > 64, head * 2 > times.count {
                times.removeFirst(head)
                head = 0
            }
        }
    }

    private struct Key: Hashable {
        let apiKey: String
        let endpoint: Endpoint
    }

    private struct State {
        var limits: [Endpoint: RateLimit]
        var logs: [Key: Log] = [:]
    }

    private let state: Mutex<State>
    private let clock: ServerClock

    init(limits: [Endpoint: RateLimit], clock: ServerClock) {
        self.clock = clock
        state = Mutex(State(limits: limits))
    }

    /// The configured limits.
    var limits: [Endpoint: RateLimit] { state.withLock { $0.limits } }

    /// Replaces the limits and forgets every window.
    func replace(limits: [Endpoint: RateLimit]) {
        state.withLock { $0 = State(limits: limits) }
    }

    /// Forgets every window, keeping the limits.
    func reset() {
        state.withLock { $0.logs = [:] }
    }

    /// How full each limited endpoint's windows are right now: per endpoint, its limit and, for
    /// every key with a request in the last window, how many of its accepted requests lie in it
    /// (keys sorted). Unlimited endpoints are absent. Reading changes no window.
    func usage() -> [Endpoint: WindowUsage] {
        let now = clock.now()
        return state.withLock { state in
            var usage: [Endpoint: WindowUsage] = [:]
            for (endpoint, limit) in state.limits {
                usage[endpoint] = WindowUsage(limit: limit, accepted: [])
            }
            for (key, log) in state.logs {
                guard let limit = state.limits[key.endpoint] else { continue }
                let count = log.count(after: now - limit.seconds)
                if count > 0 { usage[key.endpoint]?.accepted.append((key.apiKey, count)) }
            }
            for endpoint in usage.keys { usage[endpoint]?.accepted.sort { $0.apiKey < $1.apiKey } }
            return usage
        }
    }

    /// Takes a slot for a request with `apiKey` to `endpoint`, or refuses. Nil when the endpoint
    /// has no limit.
    func acquire(apiKey: String, endpoint: Endpoint) -> RateDecision? {
        let now = clock.now()
        return state.withLock { state -> RateDecision? in
            guard let limit = state.limits[endpoint] else { return nil }
            let key = Key(apiKey: apiKey, endpoint: endpoint)
            var log = state.logs[key, default: Log()]
            state.logs[key] = nil
            defer { state.logs[key] = log }
            log.expire(before: now - limit.seconds)
            let allowed = log.count < limit.count
            if allowed { log.times.append(now) }
            let oldest = log.count > 0 ? log.times[log.head] : now
            let frees = oldest + limit.seconds
            return RateDecision(
                allowed: allowed,
                limit: limit.count,
                remaining: limit.count - log.count,
                reset: Int(clock.unix(frees).rounded(.up)),
                retryAfter: max(1, Int((frees - now).rounded(.up)))
            )
        }
    }
}

/// The per-visitor custom-event limit (10 track events per minute per visitor), an exact
/// sliding window like `RateLimiter`. Events over it are answered 202 but not recorded.
struct VisitorEventLimit {
    static let count = 10
    static let seconds = 60.0
    private var logs: [String: [Double]] = [:]

    /// Records an event of `visitor` at `now` if the visitor is under the limit.
    mutating func admit(visitor: String, now: Double) -> Bool {
        var times = logs[visitor, default: []]
        times.removeAll { $0 <= now - Self.seconds }
        let admitted = times.count < Self.count
        if admitted { times.append(now) }
        logs[visitor] = times
        return admitted
    }
}
#endif
