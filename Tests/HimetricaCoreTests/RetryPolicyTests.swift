import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("Response classes and the backoff schedule")
struct RetryPolicyTests {
    @Test("every 2xx is success", arguments: [200, 201, 202, 204, 206, 299])
    func success(status: Int) {
        #expect(ResponseClass(status: status) == .success)
    }

    @Test("400, 401, 403, 404 (and other 4xx) are rejected", arguments: [400, 401, 403, 404, 405, 409, 413, 422])
    func rejected(status: Int) {
        #expect(ResponseClass(status: status) == .rejected)
    }

    @Test("408, 429, 5xx and no answer are retriable", arguments: [0, 408, 429, 500, 502, 503, 504, 599])
    func retriable(status: Int) {
        #expect(ResponseClass(status: status) == .retriable)
    }

    @Test("full jitter: attempt n waits 0...min(max, base * 2^(n-1))")
    func jitterBounds() {
        let policy = RetryPolicy(maxAttempts: 100, maxAge: 3600 * sec, baseDelay: 250 * ms, maxDelay: 30 * sec)
        var rng = SplitMix64(seed: 3)
        for attempts in 1...60 {
            let ceiling = min(30 * sec, (250 * ms) << UInt64(min(attempts - 1, 30)))
            var lowest = UInt64.max
            var highest: UInt64 = 0
            for _ in 0..<400 {
                let delay = policy.delay(attempts: attempts, serverDelay: nil, using: &rng)
                lowest = min(lowest, delay)
                highest = max(highest, delay)
            }
            #expect(highest <= ceiling, "attempt \(attempts)")
            // The whole range is used: near zero and near the ceiling both occur.
            #expect(lowest < ceiling / 10, "attempt \(attempts)")
            #expect(highest > ceiling / 10 * 9, "attempt \(attempts)")
        }
    }

    @Test("the ceiling doubles per attempt up to the maximum")
    func ceilingDoubles() {
        // With base == max, every delay is in 0...max; with a tiny max the cap shows at once.
        let policy = RetryPolicy(maxAttempts: 10, maxAge: 60 * sec, baseDelay: 100 * ms, maxDelay: 1 * sec)
        var rng = SplitMix64(seed: 9)
        let ceilings: [UInt64] = [100 * ms, 200 * ms, 400 * ms, 800 * ms, 1 * sec, 1 * sec, 1 * sec]
        for (index, ceiling) in ceilings.enumerated() {
            let delays = (0..<500).map { _ in policy.delay(attempts: index + 1, serverDelay: nil, using: &rng) }
            #expect(delays.max()! <= ceiling)
            #expect(delays.max()! > ceiling * 8 / 10)
        }
    }

    @Test("huge attempt counts do not overflow")
    func noOverflow() {
        let policy = RetryPolicy(maxAttempts: 100, maxAge: 60 * sec, baseDelay: UInt64.max / 4, maxDelay: 30 * sec)
        var rng = SplitMix64(seed: 1)
        for attempts in [0, 1, 2, 3, 40, 41, 64, 100, Int.max] {
            #expect(policy.delay(attempts: attempts, serverDelay: nil, using: &rng) <= 30 * sec)
        }
    }

    @Test("Retry-After is a floor under the jitter")
    func retryAfterFloor() {
        let policy = RetryPolicy(maxAttempts: 10, maxAge: 60 * sec, baseDelay: 250 * ms, maxDelay: 30 * sec)
        var rng = SplitMix64(seed: 5)
        for _ in 0..<200 {
            #expect(policy.delay(attempts: 1, serverDelay: 2 * sec, using: &rng) == 2 * sec)
            let late = policy.delay(attempts: 8, serverDelay: 2 * sec, using: &rng)
            #expect(late >= 2 * sec && late <= 30 * sec)
        }
    }

    @Test("zero base delay retries at once")
    func zeroDelay() {
        let policy = RetryPolicy(maxAttempts: 3, maxAge: 60 * sec, baseDelay: 0, maxDelay: 0)
        var rng = SplitMix64(seed: 5)
        #expect(policy.delay(attempts: 1, serverDelay: nil, using: &rng) == 0)
    }

    @Test("budget: attempts and age")
    func budget() {
        let policy = RetryPolicy(maxAttempts: 3, maxAge: 10 * sec, baseDelay: 0, maxDelay: 0)
        #expect(policy.allowsRetry(attempts: 1, enqueuedAt: 0, now: 0))
        #expect(policy.allowsRetry(attempts: 2, enqueuedAt: 0, now: 0))
        #expect(!policy.allowsRetry(attempts: 3, enqueuedAt: 0, now: 0))
        #expect(policy.allowsRetry(attempts: 1, enqueuedAt: 5 * sec, now: 15 * sec - 1))
        #expect(!policy.allowsRetry(attempts: 1, enqueuedAt: 5 * sec, now: 15 * sec))
    }
}
