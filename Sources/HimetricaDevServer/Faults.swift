#if DevServer  // a package trait (Package.swift)
import Synchronization

/// The fault injection settings; the JSON shape of `GET`/`PUT /_dev/faults`.
public struct FaultSettings: Sendable, Equatable {
    /// Added delay before answering, drawn uniformly from the range.
    public var latencyMs: LatencyRange?
    /// Share of requests answered with `errorStatus`.
    public var errorRate = 0.0
    /// 500, 502 or 503.
    public var errorStatus = 503
    /// Share of requests answered 429 with `Retry-After: retryAfter`.
    public var throttleRate = 0.0
    /// The `Retry-After` seconds of injected 429s.
    public var retryAfter = 1
    /// Share of connections closed without any answer.
    public var dropRate = 0.0
    /// Every request's connection is closed without answer for this many seconds from when the
    /// settings take effect (server start, or the `PUT`).
    public var downForSeconds = 0.0
    /// Accept and never answer.
    public var hang = false
    /// Seed of the generator behind every random choice.
    public var seed: UInt64 = 1

    /// No faults.
    public init() {}

    /// The settings as `/_dev/faults` JSON.
    var json: String {
        let latency = latencyMs.map { "[\($0.min),\($0.max)]" } ?? "null"
        return """
            {"latencyMs":\(latency),"errorRate":\(errorRate),"errorStatus":\(errorStatus),\
            "throttleRate":\(throttleRate),"retryAfter":\(retryAfter),"dropRate":\(dropRate),\
            "downForSeconds":\(downForSeconds),"hang":\(hang),"seed":\(seed)}
            """
    }

    /// Reads a `PUT /_dev/faults` body; members left out keep their defaults (off).
    static func from(json body: JSONValue) throws(RuleError) -> FaultSettings {
        guard body.isObject else { throw RuleError(message: "body must be a JSON object") }
        var settings = FaultSettings()
        /// A number member within `range`, or nil when absent/null.
        func number(_ key: String, in range: ClosedRange<Double>) throws(RuleError) -> Double? {
            guard let value = body.member(key), value != .null else { return nil }
            guard let n = value.doubleValue, range.contains(n) else {
                throw RuleError(message: "\(key) must be a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        switch body.member("latencyMs") {
        case nil, .null?: break
        case .array(let bounds)? where bounds.count == 2:
            guard let low = bounds[0].doubleValue, let high = bounds[1].doubleValue, low >= 0, high >= low,
                low == low.rounded(), high == high.rounded(), high <= 600_000
            else { throw RuleError(message: "latencyMs must be [min, max] whole milliseconds, min <= max") }
            settings.latencyMs = LatencyRange(min: Int(low), max: Int(high))
        case let value?:
            guard let ms = value.doubleValue, ms >= 0, ms == ms.rounded(), ms <= 600_000 else {
                throw RuleError(message: "latencyMs must be [min, max] whole milliseconds, min <= max")
            }
            settings.latencyMs = LatencyRange(min: Int(ms), max: Int(ms))
        }
        settings.errorRate = try number("errorRate", in: 0...1) ?? 0
        if let status = try number("errorStatus", in: 500...503) {
            guard [500, 502, 503].contains(status) else {
                throw RuleError(message: "errorStatus must be 500, 502 or 503")
            }
            settings.errorStatus = Int(status)
        }
        settings.throttleRate = try number("throttleRate", in: 0...1) ?? 0
        settings.retryAfter = Int(try number("retryAfter", in: 0...86_400) ?? 1)
        settings.dropRate = try number("dropRate", in: 0...1) ?? 0
        settings.downForSeconds = try number("downForSeconds", in: 0...86_400) ?? 0
        switch body.member("hang") {
        case nil, .null?: break
        case .bool(let hang)?: settings.hang = hang
        default: throw RuleError(message: "hang must be a boolean")
        }
        if let seed = try number("seed", in: 0...9_007_199_254_740_991) {
            settings.seed = UInt64(seed)
        }
        return settings
    }
}

/// SplitMix64: a small, fast, seedable generator, so the same seed gives the same choices.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}

/// What the fault injector decided for one request.
enum FaultDecision: Equatable, Sendable {
    /// Answer normally, after `delayMs` (0 for none).
    case pass(delayMs: Int)
    /// Answer with `status` (500/502/503), after `delayMs`.
    case error(status: Int, delayMs: Int)
    /// Answer 429 with `Retry-After: retryAfter`, after `delayMs`.
    case throttle(retryAfter: Int, delayMs: Int)
    /// Close the connection without answering.
    case drop
    /// Close the connection without answering: the server is "down".
    case down
    /// Never answer.
    case hang
}

/// Holds the current fault settings and the generator, and decides each request's fate.
/// Every request draws the same four numbers whatever the settings, so a given sequence of
/// requests meets the same faults each time the scenario is replayed with the same seed.
final class FaultInjector: Sendable {
    private struct State {
        var settings: FaultSettings
        var random: SeededRandom
        /// Monotonic seconds until which the server is down.
        var downUntil: Double
    }

    private let state: Mutex<State>
    private let clock: ServerClock

    init(settings: FaultSettings, clock: ServerClock) {
        self.clock = clock
        state = Mutex(State(settings: settings, random: SeededRandom(seed: settings.seed),
                            downUntil: clock.now() + settings.downForSeconds))
    }

    /// The current settings.
    var settings: FaultSettings { state.withLock { $0.settings } }

    /// Seconds the server stays down from now (0 when up).
    var downRemaining: Double {
        let now = clock.now()
        return state.withLock { max(0, $0.downUntil - now) }
    }

    /// Replaces every setting; the generator restarts from the (given or default) seed and a
    /// `downForSeconds` period starts now.
    func replace(with settings: FaultSettings) {
        let now = clock.now()
        state.withLock {
            $0 = State(settings: settings, random: SeededRandom(seed: settings.seed), downUntil: now + settings.downForSeconds)
        }
    }

    /// Decides the fate of the next request to `/api/v1/*`.
    func decide() -> FaultDecision {
        let now = clock.now()
        return state.withLock { state in
            let dropDraw = state.random.unit()
            let throttleDraw = state.random.unit()
            let errorDraw = state.random.unit()
            let latencyDraw = state.random.next()
            let s = state.settings
            if now < state.downUntil { return .down }
            if s.hang { return .hang }
            if dropDraw < s.dropRate { return .drop }
            var delay = 0
            if let range = s.latencyMs {
                delay = range.min + Int(latencyDraw % UInt64(range.max - range.min + 1))
            }
            if throttleDraw < s.throttleRate { return .throttle(retryAfter: s.retryAfter, delayMs: delay) }
            if errorDraw < s.errorRate { return .error(status: s.errorStatus, delayMs: delay) }
            return .pass(delayMs: delay)
        }
    }
}
#endif
