import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("Scheduler: lookup bound, counters and dropAll")
struct SchedulerStatsTests {
    @Test("lookups have their own bound and do not count as queued events")
    func lookupBound() {
        var scheduler = makeScheduler { $0.queueCapacity = 2 }
        #expect(scheduler.enqueueLookup(visitorId: "a", now: 0) == true)
        #expect(scheduler.enqueueLookup(visitorId: "b", now: 0) == true)
        #expect(scheduler.enqueueLookup(visitorId: "c", now: 0) == false)
        #expect(scheduler.stats.queued == 0)
        #expect(scheduler.pendingEvents == 0)
        #expect(!scheduler.isIdle)
    }

    @Test("stats add up at every step of a random run with every kind of outcome")
    func statsAddUp() {
        let scheduler = makeScheduler {
            $0.queueCapacity = 200
            $0.maxInFlight = 5
            $0.maxAttempts = 3
            $0.retryBaseDelay = .seconds(0.05)
            $0.retryMaxDelay = .seconds(0.2)
            $0.rateLimits[.track] = RateLimit(count: 30, window: .seconds(1))
        }
        var rng = SplitMix64(seed: 99)
        var enqueues: [Simulation.Enqueue] = []
        for n in 0..<3000 {
            enqueues.append(
                .init(
                    at: UInt64.random(in: 0...(60 * sec), using: &rng),
                    endpoint: Bool.random(using: &rng) ? .track : .identify,
                    identity: .visitorId("v\(Int.random(in: 0..<30, using: &rng))"), body: body("\(n)")))
        }
        var sim = Simulation(scheduler: scheduler, seed: 100)
        sim.run(enqueues, maxInFlight: 5) { _, rng in
            let roll = Int.random(in: 0..<100, using: &rng)
            let status = [202, 202, 202, 202, 200, 400, 404, 429, 503, 0][roll % 10]
            return (UInt64.random(in: (1 * ms)...(120 * ms), using: &rng), TransportResponse(status: status))
        }
        // Overflow is expected here (a small queue under a burst): those count as dropped.
        let problems = sim.problems.filter { !$0.hasPrefix("enqueue refused") }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        let stats = sim.scheduler.stats
        #expect(stats.queued == 3000)
        #expect(stats.delivered > 0 && stats.rejected > 0 && stats.gaveUp > 0 && stats.retried > 0)
        #expect(stats.delivered + stats.rejected + stats.gaveUp + stats.dropped == 3000)
        #expect(stats.queueDepth == 0 && stats.inFlight == 0)
        #expect(Int(stats.delivered + stats.rejected + stats.gaveUp) == sim.deliveries.count)
        let retriedStarts = sim.starts.filter { $0.job.attempts > 1 }.count
        #expect(Int(stats.retried) == retriedStarts)
    }

    @Test("dropAll reports every pending request as dropped: waiting, in flight and in backoff")
    func dropAll() throws {
        var scheduler = makeScheduler { $0.maxInFlight = 2; $0.retryBaseDelay = .seconds(10); $0.retryMaxDelay = .seconds(10) }
        var rng = SplitMix64(seed: 5)
        for i in 0..<6 {
            scheduler.enqueue(endpoint: i % 2 == 0 ? .track : .identify, identity: .visitorId("v\(i % 4)"), body: body("\(i)"), now: 0)
        }
        let started = scheduler.takeStartable(now: 0)
        #expect(started.count == 2)
        // One goes into backoff, one stays in flight.
        #expect(scheduler.finish(started[0], status: 503, now: 0, rng: &rng).retryIn != nil)
        #expect(scheduler.enqueueLookup(visitorId: "lookup-1", now: 0) == true)
        #expect(scheduler.statsAddUp)
        let (deliveries, lookups) = scheduler.dropAll()
        #expect(deliveries.count == 6)
        #expect(Set(deliveries.map { text($0.body) }) == ["0", "1", "2", "3", "4", "5"])
        #expect(deliveries.allSatisfy { $0.outcome == .dropped && $0.message == "dropped at shutdown" })
        #expect(lookups == ["lookup-1"])
        #expect(scheduler.stats.dropped == 6)
        #expect(scheduler.stats.queueDepth == 0 && scheduler.stats.inFlight == 0)
        #expect(scheduler.statsAddUp)
        #expect(scheduler.isIdle)
        // A late answer for a dropped request changes nothing; nothing is left to start.
        #expect(scheduler.finish(started[1], status: 202, now: 0, rng: &rng).delivery == nil)
        #expect(scheduler.takeStartable(now: 100 * sec).isEmpty)
        #expect(scheduler.nextWakeup(now: 100 * sec) == nil)
        #expect(scheduler.stats.delivered == 0)
    }

    @Test("a dropped request reports the attempts it made, an in-flight one included")
    func dropAllAttempts() throws {
        var scheduler = makeScheduler { $0.retryBaseDelay = .seconds(0) }
        var rng = SplitMix64(seed: 5)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("a"), body: body("a"), now: 0)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("a"), body: body("never sent"), now: 0)
        var job = try #require(scheduler.takeStartable(now: 0).first)
        scheduler.finish(job, status: 503, now: 0, rng: &rng)
        job = try #require(scheduler.takeStartable(now: 0).first)
        #expect(job.attempts == 2)
        let deliveries = scheduler.dropAll().deliveries
        let byBody = Dictionary(uniqueKeysWithValues: deliveries.map { (text($0.body), $0.attempts) })
        #expect(byBody == ["a": 2, "never sent": 0])
    }

    @Test("a lookup in flight at dropAll is reported as an abandoned lookup")
    func dropAllLookupInFlight() {
        var scheduler = makeScheduler()
        _ = scheduler.enqueueLookup(visitorId: "v1", now: 0)
        #expect(scheduler.takeStartable(now: 0).count == 1)
        let (deliveries, lookups) = scheduler.dropAll()
        #expect(deliveries.isEmpty)
        #expect(lookups == ["v1"])
        #expect(scheduler.stats.dropped == 0)
        #expect(scheduler.isIdle)
    }
}
