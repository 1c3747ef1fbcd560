import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("Shared limit: leasing policy (fake clock)")
struct SharedLimitPolicyTests {
    @Test("the script counts grants over the window plus the lease lifetime and the margin")
    func scriptWindow() {
        #expect(LeasePlan.scriptWindowMilliseconds(window: 5 * sec) == 5150)
        #expect(LeasePlan.scriptWindowMilliseconds(window: 60 * sec) == 60150)
    }

    @Test("leases what can be used now, at most 8, at most half a sender's share")
    func want() {
        #expect(LeasePlan.want(demand: 0, count: 60, senders: 4) == 0)
        #expect(LeasePlan.want(demand: 3, count: 60, senders: 4) == 3)
        #expect(LeasePlan.want(demand: 20, count: 60, senders: 4) == 7)
        #expect(LeasePlan.want(demand: 20, count: 1000, senders: 1) == 8)
        #expect(LeasePlan.want(demand: 20, count: 100, senders: 50) == 1)
        #expect(LeasePlan.share(count: 60, senders: 4) == 15)
        #expect(LeasePlan.share(count: 3, senders: 10) == 1)
    }

    @Test("reconnect backoff doubles from 100 ms to 2 s with jitter, and resets")
    func backoff() {
        var rng = SplitMix64(seed: 7)
        var backoff = ReconnectBackoff()
        var ceiling = ReconnectBackoff.first
        for _ in 0..<10 {
            let delay = backoff.delay(using: &rng)
            #expect(delay >= ceiling / 2 && delay <= ceiling)
            ceiling = min(ceiling * 2, ReconnectBackoff.ceiling)
        }
        backoff.reset()
        #expect(backoff.delay(using: &rng) <= ReconnectBackoff.first)
    }

    @Test("share fallback: count / senders per window, then waits for the oldest to leave")
    func shareFallback() {
        var limiter = FallbackLimiter(maximum: 60, window: 5 * sec, senders: 4, policy: .share, now: 0)
        let start: UInt64 = 1000 * sec
        for i in 0..<15 {
            #expect(limiter.nextAllowed(now: start + UInt64(i) * ms) == start + UInt64(i) * ms)
            limiter.record(now: start + UInt64(i) * ms)
        }
        #expect(limiter.nextAllowed(now: start + 20 * ms) == start + 5 * sec + SlidingWindowLimiter.margin)
        #expect(limiter.recentSendAges(now: start + 20 * ms).first == 20 * ms)
        limiter.throttled(now: start)
        #expect(limiter.limit == 15, "share does not react to 429s")
    }

    @Test("AIMD fallback: halves at a 429, grows by a tenth of the limit per quiet window")
    func aimd() {
        var limiter = FallbackLimiter(maximum: 60, window: 5 * sec, senders: 2, policy: .aimd, now: 0)
        #expect(limiter.limit == 30)
        limiter.throttled(now: 1 * sec)
        #expect(limiter.limit == 15)
        limiter.throttled(now: 2 * sec)
        #expect(limiter.limit == 7)
        _ = limiter.nextAllowed(now: 6 * sec)
        #expect(limiter.limit == 7, "less than a window since the last 429")
        _ = limiter.nextAllowed(now: 7 * sec)
        #expect(limiter.limit == 13)
        for t in 2...20 { _ = limiter.nextAllowed(now: UInt64(t) * 5 * sec + 7 * sec) }
        #expect(limiter.limit == 60, "never above the limit")
    }

    @Test("the scheduler sends only with an unexpired leased permit, and asks for what it can use")
    func schedulerNeedsPermits() {
        var scheduler = Scheduler(configuration: unlimitedConfiguration { $0.rateLimits[.track] = RateLimit(count: 60, window: .seconds(5)) },
                                  sharedLimit: true)
        let now: UInt64 = 1000 * sec
        for i in 0..<5 { scheduler.enqueue(endpoint: .track, identity: .visitorId("v\(i)"), body: body("{}"), now: now) }
        #expect(scheduler.takeStartable(now: now).isEmpty)
        #expect(scheduler.sharedDemand(now: now) == [5, 0, 0])
        scheduler.grantShared(.track, count: 3, expiresAt: now + LeasePlan.leaseLifetime)
        #expect(scheduler.sharedDemand(now: now) == [2, 0, 0])
        #expect(scheduler.takeStartable(now: now + ms).count == 3)
        #expect(scheduler.stats.sharedPermits == 3)
        scheduler.grantShared(.track, count: 2, expiresAt: now + 2 * ms)
        #expect(scheduler.takeStartable(now: now + 2 * ms).isEmpty, "an expired permit is thrown away")
        #expect(scheduler.sharedDemand(now: now + 2 * ms) == [2, 0, 0])
    }

    @Test("Redis away: the fallback share applies; back: its sends are handed over for the script")
    func schedulerFallback() {
        var scheduler = Scheduler(configuration: unlimitedConfiguration { $0.rateLimits[.track] = RateLimit(count: 8, window: .seconds(5)) },
                                  sharedLimit: true)
        let now: UInt64 = 1000 * sec
        for i in 0..<6 { scheduler.enqueue(endpoint: .track, identity: .visitorId("v\(i)"), body: body("{}"), now: now) }
        scheduler.sharedFallBack(senders: 4, now: now)
        #expect(scheduler.sharedDemand(now: now) == [0, 0, 0])
        #expect(scheduler.takeStartable(now: now).count == 2, "8 / 4 senders")
        #expect(scheduler.nextWakeup(now: now) == now + 5 * sec + SlidingWindowLimiter.margin)
        #expect(scheduler.stats.sharedPermits == 0)
        let ages = scheduler.sharedResume(now: now + sec)
        #expect(ages == [[sec, sec], [], []])
        #expect(scheduler.takeStartable(now: now + sec).isEmpty, "shared again: needs a permit")
    }

    @Test("a 429 with Retry-After is reported as a pause for every host; Remaining: 0 is not")
    func pauseReported() {
        var scheduler = Scheduler(configuration: unlimitedConfiguration { $0.rateLimits[.track] = RateLimit(count: 60, window: .seconds(5)) },
                                  sharedLimit: true)
        var rng = SplitMix64(seed: 1)
        let now: UInt64 = 1000 * sec
        scheduler.enqueue(endpoint: .track, identity: .visitorId("v"), body: body("{}"), now: now)
        scheduler.grantShared(.track, count: 1, expiresAt: now + LeasePlan.leaseLifetime)
        let job = scheduler.takeStartable(now: now)[0]
        let completion = scheduler.finish(job, status: 429, retryAfter: "2", now: now + ms, rng: &rng)
        #expect(completion.pause?.endpoint == .track)
        #expect(completion.pause?.nanoseconds == 2 * sec)
        scheduler.pauseShared(.identify, until: now + 3 * sec)
        scheduler.enqueue(endpoint: .identify, identity: .visitorId("w"), body: body("{}"), now: now)
        #expect(scheduler.takeStartable(now: now + 2 * sec).isEmpty)

        // `X-RateLimit-Remaining: 0` holds back this host only: the permits keep the others.
        var other = Scheduler(configuration: unlimitedConfiguration { $0.rateLimits[.track] = RateLimit(count: 60, window: .seconds(5)) },
                              sharedLimit: true)
        other.enqueue(endpoint: .track, identity: .visitorId("x"), body: body("{}"), now: now)
        other.grantShared(.track, count: 2, expiresAt: now + LeasePlan.leaseLifetime)
        let sent = other.takeStartable(now: now)[0]
        let exhausted = other.finish(sent, status: 202, remaining: "0", reset: "3", now: now + ms, rng: &rng)
        #expect(exhausted.pause == nil, "an exhausted window is not spread as a pause")
        other.enqueue(endpoint: .track, identity: .visitorId("y"), body: body("{}"), now: now + ms)
        #expect(other.takeStartable(now: now + 2 * ms).isEmpty, "but this host waits for the reset")
    }
}

@Suite("Shared limit: the Redis URL")
struct RedisURLTests {
    @Test("redis://[user:password@]host:port[/db]")
    func parses() throws {
        let plain = try RedisURL("redis://127.0.0.1:6379")
        #expect(plain.host == "127.0.0.1" && plain.port == 6379 && plain.password == nil && plain.database == 0)
        let full = try RedisURL("redis://app:p@ss:w0rd@cache.internal:6380/3")
        #expect(full.user == "app" && full.password == "p@ss:w0rd" && full.host == "cache.internal" && full.port == 6380)
        #expect(full.database == 3)
        #expect(full.redacted == "redis://app:***@cache.internal:6380/3")
        #expect(try RedisURL("redis://:secret@[::1]:7000").redacted == "redis://:***@[::1]:7000")
    }

    @Test("bad URLs name shared_limit and the rule, never the password")
    func refuses() {
        for text in ["http://x:1", "redis://host", "redis://:secret@host", "redis://host:0", "redis://host:99999",
                     "redis://host:1/x", "redis://:1", "redis://secret@host:1"] {
            #expect(throws: ValidationError.self) { try RedisURL(text) }
            do { _ = try RedisURL(text) } catch {
                #expect(error.field == "shared_limit")
                #expect(!error.message.contains("secret"))
            }
        }
        do { _ = try RedisURL("rediss://:secret@host:6380") } catch {
            #expect(error.rule.contains("TLS"))
        }
    }

    @Test("options: shared_limit, shared_limit_fallback, shared_limit_timeout")
    func options() throws {
        var c = Configuration()
        c.sharedLimit = nil
        try c.set(option: "shared_limit", value: "redis://127.0.0.1:6379/1")
        #expect(c.sharedLimit == "redis://127.0.0.1:6379/1")
        try c.set(option: "shared_limit_fallback", value: "aimd")
        #expect(c.sharedLimitFallback == .aimd)
        try c.set(option: "shared_limit_timeout", value: "0.05")
        #expect(c.sharedLimitTimeoutMilliseconds == 50)
        #expect(throws: ValidationError(field: "shared_limit_fallback", rule: "must be share or aimd")) {
            try c.set(option: "shared_limit_fallback", value: "none")
        }
        #expect(throws: ValidationError.self) { try c.set(option: "shared_limit_timeout", value: "0") }
        #expect(throws: ValidationError.self) { try c.set(option: "shared_limit", value: "rediss://h:1") }
        #expect(c.sharedLimit == "redis://127.0.0.1:6379/1", "a refused value changes nothing")
        try c.set(option: "shared_limit", value: "")
        #expect(c.sharedLimit == nil)
    }
}
