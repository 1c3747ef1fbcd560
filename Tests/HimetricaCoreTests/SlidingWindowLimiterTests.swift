import HimetricaRules
import Testing

@testable import HimetricaCore

/// The most of `times` (sorted) that fall in any half-open window `[t, t + window)`.
private func busiestWindow(_ times: [UInt64], window: UInt64) -> Int {
    var best = 0
    var low = 0
    for high in times.indices {
        while times[high] - times[low] >= window { low += 1 }
        best = max(best, high - low + 1)
    }
    return best
}

@Suite("Sliding-window limiter")
struct SlidingWindowLimiterTests {
    @Test("allows `limit` sends at once, then waits a window plus the 50 ms margin")
    func nextAllowedTiming() {
        var limiter = SlidingWindowLimiter(limit: 3, window: 2 * sec)
        let t0: UInt64 = 10 * sec
        for i in 0..<3 {
            #expect(limiter.nextAllowed(now: t0 + UInt64(i) * ms) == t0 + UInt64(i) * ms)
            limiter.record(now: t0 + UInt64(i) * ms)
        }
        // Full: the oldest send leaves the window (plus margin) at t0 + 2.05 s.
        #expect(SlidingWindowLimiter.margin == 50 * ms)
        #expect(limiter.nextAllowed(now: t0 + 3 * ms) == t0 + 2 * sec + 50 * ms)
        #expect(limiter.nextAllowed(now: t0 + 2 * sec) == t0 + 2 * sec + 50 * ms)
        #expect(limiter.nextAllowed(now: t0 + 2 * sec + 50 * ms - 1) == t0 + 2 * sec + 50 * ms)
        #expect(limiter.nextAllowed(now: t0 + 2 * sec + 50 * ms) == t0 + 2 * sec + 50 * ms)
        limiter.record(now: t0 + 2 * sec + 50 * ms)
        // The next one waits for the second-oldest send.
        #expect(limiter.nextAllowed(now: t0 + 2 * sec + 50 * ms) == t0 + 1 * ms + 2 * sec + 50 * ms)
    }

    @Test("an idle limiter allows a send at once")
    func idle() {
        var limiter = SlidingWindowLimiter(limit: 1, window: sec)
        #expect(limiter.nextAllowed(now: 5) == 5)
        limiter.record(now: 5)
        #expect(limiter.nextAllowed(now: 6) == 5 + sec + SlidingWindowLimiter.margin)
        // Long after, the old send is forgotten.
        #expect(limiter.nextAllowed(now: 100 * sec) == 100 * sec)
    }

    @Test("never more than N in any window over a long random schedule (limiter alone)")
    func randomScheduleDirect() {
        var rng = SplitMix64(seed: 7)
        var limiter = SlidingWindowLimiter(limit: 20, window: 2 * sec)
        var now: UInt64 = 0
        var sends: [UInt64] = []
        // 20,000 send attempts at random gaps (bursts and lulls): send whenever allowed.
        for _ in 0..<20_000 {
            now += rng.next() % 4 == 0 ? UInt64.random(in: 0...(500 * ms), using: &rng) : UInt64.random(in: 0...(5 * ms), using: &rng)
            let allowed = limiter.nextAllowed(now: now)
            #expect(allowed >= now)
            if allowed == now {
                limiter.record(now: now)
                sends.append(now)
            }
        }
        #expect(sends.count > 1000)
        // Every run of 21 consecutive sends spans more than a window plus the margin.
        for i in 20..<sends.count where sends[i] - sends[i - 20] < 2 * sec + SlidingWindowLimiter.margin {
            Issue.record("sends \(i - 20) and \(i) only \(sends[i] - sends[i - 20]) ns apart")
            break
        }
        #expect(busiestWindow(sends, window: 2 * sec + SlidingWindowLimiter.margin) <= 20)
        // The limiter is not needlessly strict: some window is full.
        #expect(busiestWindow(sends, window: 2 * sec + SlidingWindowLimiter.margin) == 20)
    }

    @Test("20 per 2 s through the scheduler: thousands of random enqueues, no window over 20")
    func randomScheduleThroughScheduler() {
        let scheduler = makeScheduler {
            $0.rateLimits[.track] = RateLimit(count: 20, window: .seconds(2))
            $0.maxInFlight = 8
        }
        var rng = SplitMix64(seed: 42)
        var enqueues: [Simulation.Enqueue] = []
        for i in 0..<3000 {
            // Mostly bursts early on, with a long random tail, 50 identities.
            let at = UInt64.random(in: 0...(300 * sec), using: &rng)
            enqueues.append(
                .init(at: at, endpoint: .track, identity: .visitorId("v\(i % 50)"), body: body("e\(i)")))
        }
        var sim = Simulation(scheduler: scheduler, seed: 1)
        sim.run(enqueues, maxInFlight: 8) { _, rng in
            (UInt64.random(in: (1 * ms)...(300 * ms), using: &rng), TransportResponse(status: 202))
        }
        #expect(sim.problems.isEmpty, "\(sim.problems.prefix(5))")
        #expect(sim.deliveries.count == 3000)
        #expect(sim.deliveries.allSatisfy { $0.outcome == .delivered })
        let times = sim.starts.map(\.time)
        #expect(times.count == 3000)
        #expect(busiestWindow(times, window: 2 * sec) <= 20)
        #expect(busiestWindow(times, window: 2 * sec + SlidingWindowLimiter.margin) <= 20)
        #expect(busiestWindow(times, window: 2 * sec) == 20)
    }

    @Test("limits are per endpoint: track at its limit does not hold identify back")
    func perEndpoint() {
        var scheduler = makeScheduler {
            $0.rateLimits[.track] = RateLimit(count: 2, window: .seconds(60))
            $0.rateLimits[.identify] = RateLimit(count: 5, window: .seconds(60))
        }
        for i in 0..<4 {
            scheduler.enqueue(endpoint: .track, identity: .visitorId("t\(i)"), body: body("t"), now: 0)
            scheduler.enqueue(endpoint: .identify, identity: .visitorId("i\(i)"), body: body("i"), now: 0)
        }
        let started = scheduler.takeStartable(now: 0)
        #expect(started.filter { $0.endpoint == .track }.count == 2)
        #expect(started.filter { $0.endpoint == .identify }.count == 4)
        #expect(scheduler.nextWakeup(now: 0) == 60 * sec + SlidingWindowLimiter.margin)
        #expect(scheduler.takeStartable(now: 60 * sec).isEmpty)
        #expect(scheduler.takeStartable(now: 60 * sec + SlidingWindowLimiter.margin).count == 2)
    }
}
