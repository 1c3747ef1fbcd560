import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("Scheduler: retries, budgets and server back-pressure")
struct SchedulerRetryTests {
    /// Starts the single queued request of a fresh scheduler.
    private func startOne(_ scheduler: inout Scheduler, endpoint: Endpoint = .track, now: UInt64 = 0) -> Job {
        scheduler.enqueue(endpoint: endpoint, identity: .visitorId("v"), body: body("b"), now: now)
        let started = scheduler.takeStartable(now: now)
        #expect(started.count == 1)
        return started[0]
    }

    @Test("a retried lane head counts its attempts 1, 2, 3, …")
    func attemptsKeepCounting() throws {
        var scheduler = makeScheduler { $0.maxAttempts = 6; $0.retryBaseDelay = .seconds(0.1) }
        var rng = SplitMix64(seed: 4)
        var job = startOne(&scheduler)
        let id = job.id
        var now: UInt64 = 0
        var seen: [Int] = []
        for _ in 1...5 {
            seen.append(job.attempts)
            let completion = scheduler.finish(job, status: 503, now: now, rng: &rng)
            now += try #require(completion.retryIn)
            let started = scheduler.takeStartable(now: now)
            try #require(started.count == 1)
            job = started[0]
            #expect(job.id == id, "a retry is the same request")
        }
        seen.append(job.attempts)
        #expect(seen == [1, 2, 3, 4, 5, 6])
        #expect(scheduler.stats.retried == 5)
        let last = scheduler.finish(job, status: 503, now: now, rng: &rng)
        #expect(last.retryIn == nil)
        #expect(last.delivery?.outcome == .gaveUp)
        #expect(last.delivery?.attempts == 6)
        #expect(scheduler.stats.gaveUp == 1)
    }

    @Test("the attempts budget ends in gaveUp with the last status and message")
    func attemptsBudget() throws {
        var scheduler = makeScheduler { $0.maxAttempts = 3; $0.retryBaseDelay = .seconds(0) }
        var rng = SplitMix64(seed: 4)
        var job = startOne(&scheduler)
        for _ in 1...2 {
            #expect(scheduler.finish(job, status: 0, now: 0, rng: &rng).retryIn == 0)
            job = try #require(scheduler.takeStartable(now: 0).first)
        }
        let completion = scheduler.finish(job, status: 500, body: body("boom"), now: 0, rng: &rng)
        let delivery = try #require(completion.delivery)
        #expect(delivery.outcome == .gaveUp)
        #expect(delivery.status == 500)
        #expect(delivery.attempts == 3)
        #expect(delivery.message == "HTTP 500: boom")
        #expect(text(delivery.body) == "b")
        #expect(scheduler.isIdle)
    }

    @Test("the age budget ends in gaveUp even with attempts left")
    func ageBudget() throws {
        var scheduler = makeScheduler { $0.maxAttempts = 100; $0.maxRetryAge = .seconds(10); $0.retryBaseDelay = .seconds(4); $0.retryMaxDelay = .seconds(4) }
        var rng = SplitMix64(seed: 8)
        var job = startOne(&scheduler, now: 0)
        var now: UInt64 = 0
        var attempts = 1
        while true {
            let completion = scheduler.finish(job, status: 429, now: now, rng: &rng)
            guard let retryIn = completion.retryIn else {
                #expect(completion.delivery?.outcome == .gaveUp)
                break
            }
            #expect(now < 10 * sec, "retried though older than the age budget")
            now += retryIn
            job = try #require(scheduler.takeStartable(now: now).first)
            attempts += 1
        }
        #expect(now >= 10 * sec)
        #expect(attempts < 100)
        #expect(scheduler.stats.gaveUp == 1)
        #expect(scheduler.stats.throttled == UInt64(attempts))
    }

    @Test("400, 401, 403, 404 are rejected at once and never retried", arguments: [400, 401, 403, 404])
    func rejectedNeverRetried(status: Int) throws {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 4)
        let job = startOne(&scheduler)
        let completion = scheduler.finish(job, status: status, body: body("{\"error\":\"no\"}"), now: 0, rng: &rng)
        #expect(completion.retryIn == nil)
        let delivery = try #require(completion.delivery)
        #expect(delivery.outcome == .rejected)
        #expect(delivery.attempts == 1)
        #expect(delivery.message == "HTTP \(status): {\"error\":\"no\"}")
        #expect(completion.unauthorized == (status == 401))
        #expect(scheduler.stats.rejected == 1)
        #expect(scheduler.stats.retried == 0)
        #expect(scheduler.takeStartable(now: 100 * sec).isEmpty)
        #expect(scheduler.isIdle)
    }

    @Test("every 2xx is delivered once, not resent", arguments: [200, 201, 202, 204])
    func successOnce(status: Int) throws {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 4)
        let job = startOne(&scheduler)
        let delivery = try #require(scheduler.finish(job, status: status, now: 0, rng: &rng).delivery)
        #expect(delivery.outcome == .delivered)
        #expect(delivery.message == nil)
        #expect(scheduler.takeStartable(now: 100 * sec).isEmpty)
        #expect(scheduler.stats.delivered == 1)
    }

    @Test("408, 429, 5xx and connection errors are retried", arguments: [0, 408, 429, 500, 502, 503, 504])
    func retriable(status: Int) {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 4)
        let job = startOne(&scheduler)
        let completion = scheduler.finish(job, status: status, now: 0, rng: &rng)
        #expect(completion.retryIn != nil)
        #expect(completion.delivery == nil)
        #expect(scheduler.stats.queueDepth == 1)
        #expect(scheduler.stats.inFlight == 0)
    }

    @Test("429 with Retry-After: 2 blocks the whole endpoint for 2 s, not the others")
    func retryAfterBlocksEndpoint() throws {
        var scheduler = makeScheduler { $0.maxInFlight = 8; $0.retryBaseDelay = .seconds(0.01); $0.retryMaxDelay = .seconds(0.01) }
        var rng = SplitMix64(seed: 4)
        let t0: UInt64 = 50 * sec
        scheduler.enqueue(endpoint: .track, identity: .visitorId("a"), body: body("a"), now: t0)
        let a = try #require(scheduler.takeStartable(now: t0).first)
        let completion = scheduler.finish(a, status: 429, retryAfter: "2", now: t0 + 100 * ms, rng: &rng)
        #expect(completion.retryIn == 2 * sec)
        #expect(scheduler.stats.throttled == 1)
        let hit = t0 + 100 * ms
        // Other identities' tracks wait too; an identify does not.
        for i in 0..<5 { scheduler.enqueue(endpoint: .track, identity: .visitorId("b\(i)"), body: body("b"), now: hit) }
        scheduler.enqueue(endpoint: .identify, identity: .visitorId("c"), body: body("c"), now: hit)
        #expect(scheduler.takeStartable(now: hit).map(\.endpoint) == [.identify])
        #expect(scheduler.nextWakeup(now: hit) == hit + 2 * sec)
        var step = hit
        while step < hit + 2 * sec {
            #expect(scheduler.takeStartable(now: step).isEmpty)
            step += 100 * ms
        }
        #expect(scheduler.takeStartable(now: hit + 2 * sec - 1).isEmpty)
        let after = scheduler.takeStartable(now: hit + 2 * sec)
        #expect(after.count == 6)
        #expect(after.allSatisfy { $0.endpoint == .track })
    }

    @Test("503 with an HTTP-date Retry-After blocks the endpoint until that date")
    func retryAfterDateBlocks() throws {
        var scheduler = makeScheduler { $0.retryBaseDelay = .seconds(0.01); $0.retryMaxDelay = .seconds(0.01) }
        var rng = SplitMix64(seed: 4)
        let a = startOne(&scheduler, endpoint: .identify)
        // fixedUnixMilliseconds is 2023-11-14 22:13:20 GMT; the server asks for 3 s later.
        let completion = scheduler.finish(
            a, status: 503, retryAfter: "Tue, 14 Nov 2023 22:13:23 GMT", now: 0, rng: &rng)
        #expect(completion.retryIn == 3 * sec)
        scheduler.enqueue(endpoint: .identify, identity: .visitorId("other"), body: body("o"), now: 0)
        #expect(scheduler.takeStartable(now: 3 * sec - 1).isEmpty)
        #expect(scheduler.takeStartable(now: 3 * sec).count == 2)
    }

    @Test("Retry-After on a 429 still blocks the endpoint when that request has no retries left")
    func retryAfterBlocksEvenWhenGivingUp() throws {
        var scheduler = makeScheduler { $0.maxAttempts = 1 }
        var rng = SplitMix64(seed: 4)
        let a = startOne(&scheduler)
        let completion = scheduler.finish(a, status: 429, retryAfter: "2", now: 0, rng: &rng)
        #expect(completion.delivery?.outcome == .gaveUp)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("other"), body: body("o"), now: 0)
        #expect(scheduler.takeStartable(now: 2 * sec - 1).isEmpty, "the server said: nothing for 2 s")
        #expect(scheduler.takeStartable(now: 2 * sec).count == 1)
    }

    @Test("garbage Retry-After is ignored: the jittered backoff applies")
    func garbageRetryAfter() throws {
        var scheduler = makeScheduler { $0.retryBaseDelay = .seconds(0.25); $0.retryMaxDelay = .seconds(0.25) }
        var rng = SplitMix64(seed: 4)
        let a = startOne(&scheduler)
        let completion = scheduler.finish(a, status: 429, retryAfter: "whenever", now: 0, rng: &rng)
        let retryIn = try #require(completion.retryIn)
        #expect(retryIn <= 250 * ms)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("other"), body: body("o"), now: 0)
        #expect(scheduler.takeStartable(now: 0).count == 1, "no endpoint block")
    }

    @Test("X-RateLimit-Remaining: 0 with a Reset blocks the endpoint, even on a success")
    func rateLimitHeadersBlock() throws {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 4)
        let a = startOne(&scheduler)
        let completion = scheduler.finish(a, status: 202, remaining: "0", reset: "5", now: sec, rng: &rng)
        #expect(completion.delivery?.outcome == .delivered)
        for i in 0..<3 { scheduler.enqueue(endpoint: .track, identity: .visitorId("n\(i)"), body: body("n"), now: sec) }
        scheduler.enqueue(endpoint: .identify, identity: .visitorId("i"), body: body("i"), now: sec)
        #expect(scheduler.takeStartable(now: sec).map(\.endpoint) == [.identify])
        #expect(scheduler.nextWakeup(now: sec) == 6 * sec)
        #expect(scheduler.takeStartable(now: 6 * sec - 1).isEmpty)
        #expect(scheduler.takeStartable(now: 6 * sec).count == 3)
    }

    /// Three tracks leave at 0.2 s under a 3 per 5 s limit; the third answer (at 0.25 s) says
    /// `X-RateLimit-Remaining: 0` and, as the dev server rounds it, `X-RateLimit-Reset` 6 s.
    private func fullWindow(localSends: Int) throws -> Scheduler {
        var scheduler = makeScheduler { $0.maxInFlight = 8; $0.rateLimits[.track] = RateLimit(count: 3, window: .seconds(5)) }
        var rng = SplitMix64(seed: 4)
        for i in 0..<localSends { scheduler.enqueue(endpoint: .track, identity: .visitorId("s\(i)"), body: body("s"), now: 200 * ms) }
        let started = scheduler.takeStartable(now: 200 * ms)
        try #require(started.count == localSends)
        scheduler.finish(
            started.last!, status: 202, remaining: "0", reset: "1700000006", now: 250 * ms,
            unixMilliseconds: fixedUnixMilliseconds + 250, rng: &rng)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("next"), body: body("n"), now: 250 * ms)
        return scheduler
    }

    @Test("Remaining 0 with the client's own window as full: the next send goes when that window frees, not at the rounded-up Reset")
    func fullLocalWindowKnowsTheReset() throws {
        var scheduler = try fullWindow(localSends: 3)
        let frees = 5200 * ms + SlidingWindowLimiter.margin
        #expect(scheduler.nextWakeup(now: 250 * ms) == frees)
        #expect(scheduler.takeStartable(now: frees - 1).isEmpty)
        #expect(scheduler.takeStartable(now: frees).count == 1)
    }

    @Test("Remaining 0 while the client's own window has room (others use the key): the Reset holds")
    func resetHoldsWhenTheServerCountsMore() throws {
        var scheduler = try fullWindow(localSends: 1)
        #expect(scheduler.takeStartable(now: 6 * sec - 1).isEmpty)
        #expect(scheduler.takeStartable(now: 6 * sec).count == 1)
    }

    @Test("X-RateLimit-Reset as Unix seconds")
    func rateLimitResetUnix() throws {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 4)
        let a = startOne(&scheduler)
        scheduler.finish(a, status: 202, remaining: "0", reset: "1700000004", now: 0, rng: &rng)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("n"), body: body("n"), now: 0)
        #expect(scheduler.takeStartable(now: 4 * sec - 1).isEmpty)
        #expect(scheduler.takeStartable(now: 4 * sec).count == 1)
    }

    @Test("a retry due later does not hold other identities back")
    func retryDoesNotBlockOthers() throws {
        var scheduler = makeScheduler { $0.retryBaseDelay = .seconds(10); $0.retryMaxDelay = .seconds(10) }
        var rng = SplitMix64(seed: 6)
        let a = startOne(&scheduler)
        #expect(scheduler.finish(a, status: 503, now: 0, rng: &rng).retryIn != nil)
        scheduler.enqueue(endpoint: .track, identity: .visitorId("other"), body: body("o"), now: 0)
        #expect(scheduler.takeStartable(now: 0).map { text($0.body) } == ["o"])
    }

    @Test("an unknown or repeated completion is ignored")
    func unknownCompletion() {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 4)
        let a = startOne(&scheduler)
        scheduler.finish(a, status: 202, now: 0, rng: &rng)
        let again = scheduler.finish(a, status: 202, now: 0, rng: &rng)
        #expect(again.delivery == nil && again.retryIn == nil && again.lookup == nil)
        #expect(scheduler.stats.delivered == 1)
        #expect(scheduler.statsAddUp)
    }
}
