import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("User-id lookups and their cache")
struct UserIdTests {
    @Test("lookups leave before queued identifies and tracks")
    func lookupPriority() throws {
        var scheduler = makeScheduler { $0.maxInFlight = 1 }
        for i in 0..<3 {
            scheduler.enqueue(endpoint: .track, identity: .visitorId("t\(i)"), body: body("t\(i)"), now: 0)
        }
        scheduler.enqueue(endpoint: .identify, identity: .visitorId("i"), body: body("i"), now: 0)
        #expect(scheduler.enqueueLookup(visitorId: "visitor-1", now: 0) == true)
        var rng = SplitMix64(seed: 1)
        var order: [String] = []
        var now: UInt64 = 0
        while !scheduler.isIdle {
            let started = scheduler.takeStartable(now: now)
            try #require(started.count == 1)
            let job = started[0]
            order.append(job.visitorId.map { "lookup:\($0)" } ?? text(job.body))
            now += ms
            let completion = scheduler.finish(
                job, status: 200, body: job.visitorId == nil ? [] : body("{\"userId\":\"hm_usr_1\"}"), now: now,
                rng: &rng)
            if job.visitorId != nil {
                let lookup = try #require(completion.lookup)
                #expect(lookup.visitorId == "visitor-1")
                #expect(lookup.classification == .success)
                #expect(completion.delivery == nil)
            }
        }
        #expect(order == ["lookup:visitor-1", "i", "t0", "t1", "t2"])
        #expect(scheduler.stats.queued == 4, "lookups are not counted as queued events")
        #expect(scheduler.stats.delivered == 4)
    }

    @Test("lookups keep to the user-id rate limit")
    func lookupLimit() {
        var scheduler = makeScheduler { $0.rateLimits[.userId] = RateLimit(count: 2, window: .seconds(60)) }
        for i in 0..<3 { _ = scheduler.enqueueLookup(visitorId: "v\(i)", now: 0) }
        #expect(scheduler.takeStartable(now: 0).compactMap(\.visitorId) == ["v0", "v1"])
        #expect(scheduler.nextWakeup(now: 0) == 60 * sec + SlidingWindowLimiter.margin)
        #expect(scheduler.takeStartable(now: 60 * sec + SlidingWindowLimiter.margin).compactMap(\.visitorId) == ["v2"])
    }

    @Test("a lookup that fails retriably is retried, then ends with the last answer")
    func lookupRetry() throws {
        var scheduler = makeScheduler { $0.maxAttempts = 2; $0.retryBaseDelay = .seconds(0) }
        var rng = SplitMix64(seed: 1)
        _ = scheduler.enqueueLookup(visitorId: "v", now: 0)
        var job = try #require(scheduler.takeStartable(now: 0).first)
        #expect(scheduler.finish(job, status: 503, now: 0, rng: &rng).retryIn == 0)
        job = try #require(scheduler.takeStartable(now: 0).first)
        #expect(job.attempts == 2)
        let completion = scheduler.finish(job, status: 503, now: 0, rng: &rng)
        #expect(completion.lookup?.classification == .retriable)
        #expect(scheduler.isIdle)
        #expect(scheduler.stats.retried == 0, "retried counts track and identify requests")
    }

    @Test("a 404 lookup ends at once as rejected")
    func lookupNotFound() throws {
        var scheduler = makeScheduler()
        var rng = SplitMix64(seed: 1)
        _ = scheduler.enqueueLookup(visitorId: "v", now: 0)
        let job = try #require(scheduler.takeStartable(now: 0).first)
        let completion = scheduler.finish(job, status: 404, now: 0, rng: &rng)
        #expect(completion.lookup?.classification == .rejected)
        #expect(completion.lookup?.response.status == 404)
        #expect(completion.retryIn == nil)
        #expect(scheduler.isIdle)
    }

    @Test("the cache remembers answers")
    func cacheHit() {
        var cache = UserIdCache(capacity: 10, notFoundTTL: 10 * sec)
        #expect(cache.lookup("v", now: 0) == nil)
        cache.store("v", userId: "hm_usr_1")
        #expect(cache.lookup("v", now: 0) == .userId("hm_usr_1"))
        #expect(cache.lookup("v", now: 1_000_000 * sec) == .userId("hm_usr_1"), "a found mapping does not expire")
        cache.store("v", userId: "hm_usr_2")
        #expect(cache.lookup("v", now: 0) == .userId("hm_usr_2"))
    }

    @Test("not-found answers expire after their TTL")
    func notFoundTTL() {
        var cache = UserIdCache(capacity: 10, notFoundTTL: 10 * sec)
        cache.storeNotFound("v", now: 100 * sec)
        #expect(cache.lookup("v", now: 100 * sec) == .notFound)
        #expect(cache.lookup("v", now: 110 * sec - 1) == .notFound)
        #expect(cache.lookup("v", now: 110 * sec) == nil)
        // A later found answer replaces a not-found one.
        cache.storeNotFound("w", now: 0)
        cache.store("w", userId: "hm_usr_w")
        #expect(cache.lookup("w", now: 0) == .userId("hm_usr_w"))
    }

    @Test("not-found caching can be turned off")
    func notFoundOff() {
        var cache = UserIdCache(capacity: 10, notFoundTTL: 0)
        cache.storeNotFound("v", now: 0)
        #expect(cache.lookup("v", now: 0) == nil)
        var none = UserIdCache(capacity: 0, notFoundTTL: 10 * sec)
        none.store("v", userId: "hm_usr_1")
        none.storeNotFound("w", now: 0)
        #expect(none.lookup("v", now: 0) == nil)
        #expect(none.lookup("w", now: 0) == nil)
    }

    @Test("capacity evicts the oldest found answer")
    func eviction() {
        var cache = UserIdCache(capacity: 3, notFoundTTL: 10 * sec)
        for i in 0..<3 { cache.store("v\(i)", userId: "hm_usr_\(i)") }
        cache.store("v1", userId: "hm_usr_1b")  // an update is not a new entry
        cache.store("v3", userId: "hm_usr_3")
        #expect(cache.lookup("v0", now: 0) == nil)
        #expect(cache.lookup("v1", now: 0) == .userId("hm_usr_1b"))
        #expect(cache.lookup("v2", now: 0) == .userId("hm_usr_2"))
        #expect(cache.lookup("v3", now: 0) == .userId("hm_usr_3"))
        for i in 4..<100 { cache.store("v\(i)", userId: "hm_usr_\(i)") }
        #expect((0..<100).filter { cache.lookup("v\($0)", now: 0) != nil } == [97, 98, 99])
    }

    @Test("not-found entries are bounded: expired ones make room, live ones are kept")
    func notFoundBound() {
        var cache = UserIdCache(capacity: 2, notFoundTTL: 10 * sec)
        cache.storeNotFound("a", now: 0)
        cache.storeNotFound("b", now: 5 * sec)
        cache.storeNotFound("c", now: 6 * sec)  // full of live entries: not remembered
        #expect(cache.lookup("c", now: 6 * sec) == nil)
        #expect(cache.lookup("a", now: 6 * sec) == .notFound)
        cache.storeNotFound("d", now: 11 * sec)  // "a" has expired and makes room
        #expect(cache.lookup("d", now: 11 * sec) == .notFound)
        #expect(cache.lookup("b", now: 11 * sec) == .notFound)
    }
}
