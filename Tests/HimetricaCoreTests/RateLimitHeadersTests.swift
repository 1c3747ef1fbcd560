import HimetricaRules
import Testing

@testable import HimetricaCore

@Suite("Retry-After and X-RateLimit headers")
struct RateLimitHeadersTests {
    @Test("Retry-After in delta seconds")
    func deltaSeconds() {
        #expect(RateLimitHeaders.retryAfter("2", nowUnixMilliseconds: 0) == 2 * sec)
        #expect(RateLimitHeaders.retryAfter(" 0 ", nowUnixMilliseconds: 0) == 0)
        #expect(RateLimitHeaders.retryAfter("120", nowUnixMilliseconds: 0) == 120 * sec)
        #expect(RateLimitHeaders.retryAfter("1.5", nowUnixMilliseconds: 0) == 1_500 * ms)
        // At most an hour.
        #expect(RateLimitHeaders.retryAfter("999999", nowUnixMilliseconds: 0) == 3600 * sec)
    }

    @Test("IMF-fixdate is parsed to Unix seconds")
    func httpDate() {
        #expect(RateLimitHeaders.httpDateUnixSeconds("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(RateLimitHeaders.httpDateUnixSeconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(RateLimitHeaders.httpDateUnixSeconds("Tue, 14 Nov 2023 22:13:20 GMT") == 1_700_000_000)
        #expect(RateLimitHeaders.httpDateUnixSeconds("Thu, 29 Feb 2024 12:00:00 GMT") == 1_709_208_000)
    }

    @Test("Retry-After as an HTTP date is relative to now")
    func dateRelativeToNow() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT"
        let then: Int64 = 784_111_777_000
        #expect(RateLimitHeaders.retryAfter(date, nowUnixMilliseconds: then - 5_000) == 5 * sec)
        #expect(RateLimitHeaders.retryAfter(date, nowUnixMilliseconds: then - 1_250) == 1_250 * ms)
        // In the past: retry now (no wait), not "unreadable".
        #expect(RateLimitHeaders.retryAfter(date, nowUnixMilliseconds: then + 60_000) == 0)
        // Far future: at most an hour.
        #expect(RateLimitHeaders.retryAfter(date, nowUnixMilliseconds: 0) == 3600 * sec)
        #expect(
            RateLimitHeaders.retryAfter("Tue, 14 Nov 2023 22:13:22 GMT", nowUnixMilliseconds: fixedUnixMilliseconds)
                == 2 * sec)
    }

    @Test(
        "unreadable Retry-After is ignored",
        arguments: [
            nil, "", "   ", "soon", "-5", "nan", "inf", "2 seconds", "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49 GMT", "Sun, 06 Nov 1994 08:xx:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] as [String?])
    func garbage(value: String?) {
        #expect(RateLimitHeaders.retryAfter(value, nowUnixMilliseconds: fixedUnixMilliseconds) == nil)
    }

    @Test("X-RateLimit-Remaining 0 with a Reset: blocked until then")
    func exhausted() {
        // Reset as seconds from now.
        #expect(RateLimitHeaders.exhaustedFor(remaining: "0", reset: "3", nowUnixMilliseconds: 0) == 3 * sec)
        // Reset as Unix seconds.
        #expect(
            RateLimitHeaders.exhaustedFor(
                remaining: "0", reset: "1700000005", nowUnixMilliseconds: fixedUnixMilliseconds) == 5 * sec)
        // A reset in the past: no wait.
        #expect(
            RateLimitHeaders.exhaustedFor(
                remaining: "0", reset: "1699999990", nowUnixMilliseconds: fixedUnixMilliseconds) == 0)
        // Requests remain, or something is missing or unreadable: not blocked.
        #expect(RateLimitHeaders.exhaustedFor(remaining: "5", reset: "3", nowUnixMilliseconds: 0) == nil)
        #expect(RateLimitHeaders.exhaustedFor(remaining: nil, reset: "3", nowUnixMilliseconds: 0) == nil)
        #expect(RateLimitHeaders.exhaustedFor(remaining: "0", reset: nil, nowUnixMilliseconds: 0) == nil)
        #expect(RateLimitHeaders.exhaustedFor(remaining: "none", reset: "3", nowUnixMilliseconds: 0) == nil)
        #expect(RateLimitHeaders.exhaustedFor(remaining: "0", reset: "later", nowUnixMilliseconds: 0) == nil)
        #expect(RateLimitHeaders.exhaustedFor(remaining: "0", reset: "inf", nowUnixMilliseconds: 0) == nil)
    }
}
