import HimetricaRules
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One millisecond and one second in nanoseconds, for readable times.
let ms: UInt64 = 1_000_000
let sec: UInt64 = 1_000_000_000

/// A fixed wall-clock time for HTTP dates: 2023-11-14T22:13:20Z.
let fixedUnixMilliseconds: Int64 = 1_700_000_000_000

/// SplitMix64: a tiny seeded generator, so every "random" run is the same run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A clock whose time only moves when a test moves it.
final class FakeClock: EngineClock, @unchecked Sendable {
    private let lock = ConditionLock()
    private var monotonic: UInt64
    private var unix: Int64

    init(monotonic: UInt64 = 1_000 * sec, unixMilliseconds: Int64 = fixedUnixMilliseconds) {
        self.monotonic = monotonic
        self.unix = unixMilliseconds
    }

    func monotonicNanoseconds() -> UInt64 { lock.withLock { monotonic } }
    func unixMilliseconds() -> Int64 { lock.withLock { unix } }

    /// Moves both clocks forward.
    func advance(by nanoseconds: UInt64) {
        lock.withLock {
            monotonic += nanoseconds
            unix += Int64(nanoseconds / ms)
        }
    }

    /// The monotonic time now (shorthand).
    var now: UInt64 { monotonicNanoseconds() }
}

/// A configuration with no rate limits (tests add the ones they exercise).
func unlimitedConfiguration(_ modify: (inout Configuration) -> Void = { _ in }) -> Configuration {
    var configuration = Configuration()
    configuration.rateLimits = [:]
    modify(&configuration)
    return configuration
}

/// A scheduler over `unlimitedConfiguration(modify)`.
func makeScheduler(_ modify: (inout Configuration) -> Void = { _ in }) -> Scheduler {
    Scheduler(configuration: unlimitedConfiguration(modify))
}

func body(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

extension Scheduler {
    /// Completes `job` with `status` (and optional headers) at `now`.
    @discardableResult
    mutating func finish(
        _ job: Job, status: Int, retryAfter: String? = nil, remaining: String? = nil, reset: String? = nil,
        body: [UInt8] = [], now: UInt64, unixMilliseconds: Int64 = fixedUnixMilliseconds,
        rng: inout SplitMix64
    ) -> Completion {
        complete(
            id: job.id,
            response: TransportResponse(
                status: status, error: status == 0 ? "connection refused" : nil, retryAfter: retryAfter,
                rateLimitRemaining: remaining, rateLimitReset: reset, body: body),
            now: now, nowUnixMilliseconds: unixMilliseconds, using: &rng)
    }

    /// queued = delivered + rejected + gaveUp + dropped + queueDepth + inFlight.
    var statsAddUp: Bool {
        stats.queued == stats.delivered + stats.rejected + stats.gaveUp + stats.dropped + stats.queueDepth + stats.inFlight
    }
}

/// Polls `condition` every millisecond until it holds or `timeout` seconds pass.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Clock.monotonicNanoseconds() + timeout.nanoseconds
    while !condition() {
        if Clock.monotonicNanoseconds() >= deadline { return false }
        usleep(1000)
    }
    return true
}

/// Seconds elapsed while running `body`, with its result.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = Clock.monotonicNanoseconds()
    let value = try body()
    return (value, Double(Clock.monotonicNanoseconds() - start) / 1e9)
}

/// A thread-safe list that callbacks append to.
final class Recorder<Element>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [Element] = []

    func append(_ item: Element) { lock.withLock { items.append(item) } }
    var all: [Element] { lock.withLock { items } }
    var count: Int { lock.withLock { items.count } }
}

/// A discrete-event simulation of the flush thread over a `Scheduler`: requests are enqueued at
/// given times, each started request is answered after a latency chosen by `respond`, and time
/// jumps to the next thing that can happen (an enqueue, an answer, or the scheduler's wakeup).
struct Simulation {
    struct Enqueue {
        var at: UInt64
        var endpoint: Endpoint
        var identity: Identity
        var body: [UInt8]
    }

    struct Start {
        var time: UInt64
        var job: Job
    }

    var scheduler: Scheduler
    var rng: SplitMix64
    var now: UInt64 = 0
    var starts: [Start] = []
    var deliveries: [Delivery] = []
    var maxInFlightSeen = 0
    /// What went wrong during the run (checked after every step); empty when all is well.
    var problems: [String] = []

    init(scheduler: Scheduler, seed: UInt64) {
        self.scheduler = scheduler
        rng = SplitMix64(seed: seed)
    }

    /// Runs until nothing is left; `respond` gives each attempt's latency and response.
    mutating func run(
        _ enqueues: [Enqueue], maxInFlight: Int,
        respond: (Job, inout SplitMix64) -> (latency: UInt64, response: TransportResponse)
    ) {
        let enqueues = enqueues.sorted { $0.at < $1.at }
        var next = 0
        var inFlight: [(due: UInt64, job: Job, response: TransportResponse)] = []
        var lanesInFlight = Set<Identity>()
        var steps = 0
        while true {
            steps += 1
            if steps > 5_000_000 {
                problems.append("simulation did not end")
                return
            }
            while next < enqueues.count, enqueues[next].at <= now {
                let e = enqueues[next]
                scheduler.enqueue(endpoint: e.endpoint, identity: e.identity, body: e.body, now: now)
                next += 1
            }
            // Answers due now, in the order they arrive (ties in random order).
            let due = inFlight.filter { $0.due <= now }.shuffled(using: &rng)
            inFlight.removeAll { $0.due <= now }
            for answer in due {
                if let lane = answer.job.lane { lanesInFlight.remove(lane) }
                let completion = scheduler.complete(
                    id: answer.job.id, response: answer.response, now: now,
                    nowUnixMilliseconds: fixedUnixMilliseconds, using: &rng)
                if let delivery = completion.delivery { deliveries.append(delivery) }
                if !scheduler.statsAddUp { problems.append("stats do not add up at \(now): \(scheduler.stats)") }
            }
            for job in scheduler.takeStartable(now: now) {
                starts.append(Start(time: now, job: job))
                if let lane = job.lane {
                    if lanesInFlight.contains(lane) { problems.append("two requests of \(lane) in flight at \(now)") }
                    lanesInFlight.insert(lane)
                }
                let (latency, response) = respond(job, &rng)
                inFlight.append((now + latency, job, response))
            }
            maxInFlightSeen = max(maxInFlightSeen, inFlight.count)
            if inFlight.count > maxInFlight { problems.append("\(inFlight.count) in flight at \(now)") }
            let lanesCount = inFlight.filter { $0.job.lane != nil }.count
            if Int(scheduler.stats.inFlight) != lanesCount {
                problems.append("stats.inFlight \(scheduler.stats.inFlight) but \(lanesCount) in flight")
            }
            if !scheduler.statsAddUp { problems.append("stats do not add up at \(now): \(scheduler.stats)") }

            var candidates: [UInt64] = inFlight.map(\.due)
            if next < enqueues.count { candidates.append(enqueues[next].at) }
            if let wakeup = scheduler.nextWakeup(now: now) { candidates.append(wakeup) }
            guard let soonest = candidates.min() else {
                if !scheduler.isIdle { problems.append("stuck with work left at \(now)") }
                return
            }
            if soonest <= now {
                problems.append("time does not advance at \(now) (next \(soonest))")
                return
            }
            now = soonest
        }
    }
}
