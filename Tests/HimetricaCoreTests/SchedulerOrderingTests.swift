import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("Scheduler: ordering per identity")
struct SchedulerOrderingTests {
    @Test("many identities interleaved, answers in random order: each identity in call order, one at a time")
    func randomInterleaving() {
        let scheduler = makeScheduler { $0.maxInFlight = 8 }
        var rng = SplitMix64(seed: 11)
        let identities: [Identity] = (0..<40).map { i in
            switch i % 3 {
            case 0: .visitorId("vid-\(i)")
            case 1: .email("user\(i)@example.com")
            default: .userId("hm_usr_\(i)")
            }
        }
        var expected: [Identity: [String]] = [:]
        var enqueues: [Simulation.Enqueue] = []
        var at: UInt64 = 0
        for n in 0..<4000 {
            at += UInt64.random(in: 0...(3 * ms), using: &rng)
            let identity = identities[Int.random(in: 0..<identities.count, using: &rng)]
            let label = "\(identity.value)#\(n)"
            expected[identity, default: []].append(label)
            enqueues.append(
                .init(
                    at: at, endpoint: Bool.random(using: &rng) ? .track : .identify, identity: identity,
                    body: body(label)))
        }
        var sim = Simulation(scheduler: scheduler, seed: 12)
        sim.run(enqueues, maxInFlight: 8) { _, rng in
            (UInt64.random(in: (1 * ms)...(200 * ms), using: &rng), TransportResponse(status: 202))
        }
        #expect(sim.problems.isEmpty, "\(sim.problems.prefix(5))")
        var started: [Identity: [String]] = [:]
        for start in sim.starts { started[start.job.lane!, default: []].append(text(start.job.body)) }
        #expect(started == expected)
        #expect(sim.maxInFlightSeen == 8)
        #expect(sim.scheduler.stats.delivered == 4000)
    }

    @Test("with retries (503s and dropped connections) each identity still goes in call order")
    func randomInterleavingWithRetries() {
        let scheduler = makeScheduler {
            $0.maxInFlight = 6
            $0.maxAttempts = 100
            $0.retryBaseDelay = .seconds(0.05)
            $0.retryMaxDelay = .seconds(1)
        }
        var rng = SplitMix64(seed: 21)
        var expected: [Identity: [String]] = [:]
        var enqueues: [Simulation.Enqueue] = []
        for n in 0..<1500 {
            let identity = Identity.email("u\(Int.random(in: 0..<25, using: &rng))@example.com")
            let label = "\(n)"
            expected[identity, default: []].append(label)
            enqueues.append(
                .init(
                    at: UInt64(n) * 2 * ms, endpoint: n % 4 == 0 ? .identify : .track, identity: identity,
                    body: body(label)))
        }
        var sim = Simulation(scheduler: scheduler, seed: 22)
        sim.run(enqueues, maxInFlight: 6) { _, rng in
            let roll = Int.random(in: 0..<100, using: &rng)
            let status = roll < 30 ? 503 : roll < 35 ? 0 : 202
            return (UInt64.random(in: (1 * ms)...(150 * ms), using: &rng), TransportResponse(status: status))
        }
        #expect(sim.problems.isEmpty, "\(sim.problems.prefix(5))")
        // Collapse retries (the same body started again) to see the order of distinct bodies.
        var started: [Identity: [String]] = [:]
        for start in sim.starts {
            let label = text(start.job.body)
            if start.job.attempts > 1 {
                #expect(started[start.job.lane!]?.last == label, "a retry must be of the lane's current head")
            } else {
                started[start.job.lane!, default: []].append(label)
            }
        }
        #expect(started == expected)
        #expect(sim.scheduler.stats.delivered == 1500)
        #expect(sim.scheduler.stats.retried > 300)
    }

    @Test("different identities go in parallel, up to maxInFlight")
    func parallelUpToCap() {
        var scheduler = makeScheduler { $0.maxInFlight = 4 }
        for i in 0..<10 {
            scheduler.enqueue(endpoint: .track, identity: .visitorId("v\(i)"), body: body("\(i)"), now: 0)
        }
        let first = scheduler.takeStartable(now: 0)
        #expect(first.map { text($0.body) } == ["0", "1", "2", "3"])
        #expect(scheduler.takeStartable(now: 0).isEmpty)
        #expect(scheduler.nextWakeup(now: 0) == nil, "only a completion can free a slot")
        var rng = SplitMix64(seed: 1)
        scheduler.finish(first[2], status: 202, now: 1, rng: &rng)
        #expect(scheduler.takeStartable(now: 1).map { text($0.body) } == ["4"])
        #expect(scheduler.stats.inFlight == 4)
        #expect(scheduler.stats.queueDepth == 5)
    }

    @Test("one identity: the next request leaves only after the previous has an outcome")
    func oneAtATime() {
        var scheduler = makeScheduler { $0.maxInFlight = 8 }
        var rng = SplitMix64(seed: 1)
        let me = Identity.userId("hm_usr_1")
        for i in 0..<3 { scheduler.enqueue(endpoint: .track, identity: me, body: body("\(i)"), now: 0) }
        scheduler.enqueue(endpoint: .track, identity: .userId("hm_usr_2"), body: body("other"), now: 0)
        let first = scheduler.takeStartable(now: 0)
        #expect(first.map { text($0.body) } == ["0", "other"])
        #expect(scheduler.takeStartable(now: 5 * sec).isEmpty)
        scheduler.finish(first[0], status: 400, now: 5 * sec, rng: &rng)  // a rejection is an outcome too
        let second = scheduler.takeStartable(now: 5 * sec)
        #expect(second.map { text($0.body) } == ["1"])
        scheduler.finish(second[0], status: 202, now: 6 * sec, rng: &rng)
        #expect(scheduler.takeStartable(now: 6 * sec).map { text($0.body) } == ["2"])
    }

    @Test("identify then track for one email stays ordered even when the identify is retried")
    func identifyThenTrack() throws {
        var scheduler = makeScheduler {
            $0.maxInFlight = 8
            $0.retryBaseDelay = .seconds(1)
            $0.retryMaxDelay = .seconds(1)
        }
        var rng = SplitMix64(seed: 2)
        let email = Identity.email("ada@example.com")
        scheduler.enqueue(endpoint: .identify, identity: email, body: body("identify"), now: 0)
        scheduler.enqueue(endpoint: .track, identity: email, body: body("track"), now: 0)
        var now: UInt64 = 0
        var identify = scheduler.takeStartable(now: now)
        #expect(identify.map { text($0.body) } == ["identify"])
        for attempt in 1...3 {
            #expect(identify.first?.attempts == attempt)
            let completion = scheduler.finish(identify[0], status: attempt == 1 ? 503 : 0, now: now, rng: &rng)
            let retryIn = try #require(completion.retryIn)
            #expect(completion.delivery == nil)
            // Until the retry is due, nothing of this identity leaves: not the track either.
            #expect(scheduler.takeStartable(now: now).isEmpty)
            if retryIn > 0 { #expect(scheduler.takeStartable(now: now + retryIn - 1).isEmpty) }
            #expect(scheduler.nextWakeup(now: now) == now + retryIn)
            now += retryIn
            identify = scheduler.takeStartable(now: now)
            #expect(identify.map { text($0.body) } == ["identify"])
        }
        let done = scheduler.finish(identify[0], status: 200, now: now, rng: &rng)
        #expect(done.delivery?.outcome == .delivered)
        #expect(done.delivery?.attempts == 4)
        let track = scheduler.takeStartable(now: now)
        #expect(track.map { text($0.body) } == ["track"])
        #expect(track.first?.attempts == 1)
    }

    @Test("a lane whose head is an identify and then a track is served from both endpoint queues")
    func mixedEndpointsInOneLane() {
        var scheduler = makeScheduler { $0.maxInFlight = 1 }
        var rng = SplitMix64(seed: 1)
        let a = Identity.visitorId("a")
        scheduler.enqueue(endpoint: .track, identity: a, body: body("a1"), now: 0)
        scheduler.enqueue(endpoint: .identify, identity: a, body: body("a2"), now: 0)
        scheduler.enqueue(endpoint: .track, identity: a, body: body("a3"), now: 0)
        var order: [String] = []
        var now: UInt64 = 0
        while !scheduler.isIdle {
            let started = scheduler.takeStartable(now: now)
            #expect(started.count == 1)
            guard let job = started.first else { break }
            order.append(text(job.body))
            now += ms
            scheduler.finish(job, status: 202, now: now, rng: &rng)
        }
        #expect(order == ["a1", "a2", "a3"])
    }

    @Test("the spool rows to start next are the ones takeStartable then takes, in its order")
    func upcomingSpoolRowsAreTheNextToStart() {
        var scheduler = makeScheduler { $0.maxInFlight = 2 }
        func row(_ id: Int64, _ endpoint: Endpoint, _ lane: String) -> SpoolRow {
            SpoolRow(
                id: id, fingerprint: "fp", endpoint: endpoint, identity: .visitorId(lane), body: body("r\(id)"),
                capturedAt: 0, origin: "o")
        }
        // Lane a holds rows 1 and 4 (4 waits for 1); identify goes first.
        for (id, endpoint, lane) in [(1, Endpoint.track, "a"), (2, .track, "b"), (3, .track, "c"), (4, .track, "a"),
            (5, .identify, "d"), (6, .track, "e"), (7, .track, "f"), (8, .track, "g")]
        {
            scheduler.enqueue(spooled: row(Int64(id), endpoint, lane), now: 0)
        }
        #expect(scheduler.upcomingSpoolRows(of: [.identify, .track]) == [5, 1, 2, 3])
        #expect(scheduler.upcomingSpoolRows(of: [.track]) == [1, 2, 3, 6])
        #expect(scheduler.takeStartable(now: 0).compactMap(\.spoolRow) == [5, 1])
        // At most twice max_in_flight, whatever is in flight.
        #expect(scheduler.upcomingSpoolRows(of: [.identify, .track]) == [2, 3, 6, 7])
    }
}
