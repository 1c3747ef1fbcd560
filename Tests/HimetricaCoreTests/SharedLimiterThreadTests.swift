import HimetricaRules
import Logging
import Synchronization
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shared limit's own thread against a real redis-server: the flush thread's side
/// (publish, demandMet, publishPause) from one thread, the limiter's from its own, so that the
/// sanitizer builds (`make test-sanitizers`) check the locking between them.
@Suite("Shared limit: the limiter's thread on a real Redis", .serialized)
struct SharedLimiterThreadTests {
    /// What the limiter hands the engine, recorded.
    final class Sink: PermitSink, @unchecked Sendable {
        struct State {
            var granted = 0
            var pauses = 0
            var downs = 0
            var ups = 0
        }
        let state = Mutex(State())
        weak var limiter: SharedLimiter?

        func sharedPermitsGranted(_ endpoint: Endpoint, count: Int, expiresAt: UInt64) {
            state.withLock { $0.granted += count }
            limiter?.demandMet(endpoint)
        }
        func sharedPause(_ endpoint: Endpoint, until: UInt64) { state.withLock { $0.pauses += 1 } }
        func sharedLimitDown(senders: Int) { state.withLock { $0.downs += 1 } }
        func sharedLimitUp() -> [[UInt64]] {
            state.withLock { $0.ups += 1 }
            return Endpoint.allCases.map { _ in [] }
        }
    }

    /// What the test's "flush thread" shares with the test.
    final class Flags: Sendable {
        let publishing = Atomic<Bool>(true)
        let threadStarted = Atomic<Bool>(true)
    }

    static func limiter(_ redis: RedisServer, sink: Sink) -> SharedLimiter {
        let limiter = SharedLimiter(settings: .init(
            url: redis.url, fingerprint: SecretKey.fingerprint("hm_sk_limiter_thread_test_01"),
            rateLimits: [.track: RateLimit(count: 40, window: .seconds(2))], timeoutMilliseconds: 200,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }))
        sink.limiter = limiter
        limiter.attach(sink)
        return limiter
    }

    @Test("grants reach the sink while demand is published; a pause is spread; Redis away and back")
    func threadAgainstRedis() throws {
        let redis = try RedisServer()
        let sink = Sink()
        let limiter = Self.limiter(redis, sink: sink)
        defer { limiter.stop() }
        // The flush thread's side: demand all along, as it changes.
        let flags = Flags()
        let flushThread = TestThread {
            var n = 0
            while flags.publishing.load(ordering: .relaxed) {
                n += 1
                if !limiter.publish(demand: [1 + n % 5, 0, 0]) { flags.threadStarted.store(false, ordering: .relaxed) }
                usleep(2_000)
            }
        }
        flushThread.start()
        defer {
            flags.publishing.store(false, ordering: .relaxed)
            flushThread.join()
        }
        #expect(waitUntil(timeout: 10) { sink.state.withLock { $0.granted } >= 40 }, "the window's permits arrive")
        let granted = sink.state.withLock { $0.granted }
        usleep(300_000)
        #expect(sink.state.withLock { $0.granted } <= 40, "never more than the count in a window: \(granted)")

        let started = flags.threadStarted.load(ordering: .relaxed)
        #expect(started, "the limiter's thread started")
        limiter.publishPause(.track, milliseconds: 5_000)
        // The next lease (the window frees about 2 s after the grants) is answered with the pause.
        #expect(waitUntil(timeout: 10) { sink.state.withLock { $0.pauses } >= 1 })

        redis.stop()
        #expect(waitUntil(timeout: 10) { sink.state.withLock { $0.downs } == 1 })
        let fallbacks = limiter.fallbacks.load(ordering: .relaxed)
        #expect(fallbacks == 1)
        try redis.start()
        #expect(waitUntil(timeout: 10) { sink.state.withLock { $0.ups } == 1 }, "back within the backoff")
    }
}
