import HimetricaRules

/// What an HTTP answer (or its absence) means for a request.
enum ResponseClass: Equatable {
    /// Any 2xx: the server has it. (Track answers 202.)
    case success
    /// The server refused this request and will refuse it again (400, 401, 403, 404, other 4xx).
    case rejected
    /// Worth trying again later: 408, 429, 5xx, timeouts and connection errors.
    case retriable

    init(status: Int) {
        switch status {
        case 200..<300: self = .success
        case 0, 408, 429, 500..<600: self = .retriable
        default: self = .rejected
        }
    }
}

/// Exponential backoff with full jitter, inside a budget of attempts and age.
struct RetryPolicy {
    /// The most attempts one request gets, the first included.
    var maxAttempts: Int
    /// The oldest a request may be (since it was queued) and still be retried, in ns.
    var maxAge: UInt64
    /// The backoff ceiling for the first retry, doubled for each later one, in ns.
    var baseDelay: UInt64
    /// The largest backoff ceiling, in ns.
    var maxDelay: UInt64

    /// Whether a request queued at `enqueuedAt` that has made `attempts` attempts may try again.
    func allowsRetry(attempts: Int, enqueuedAt: UInt64, now: UInt64) -> Bool {
        attempts < maxAttempts && now &- enqueuedAt < maxAge
    }

    /// The delay before the next attempt after `attempts` attempts: uniformly random between
    /// zero and `min(maxDelay, baseDelay * 2^(attempts-1))` ("full jitter"), but never less than
    /// what the server asked for with `Retry-After`.
    func delay<R: RandomNumberGenerator>(attempts: Int, serverDelay: UInt64?, using rng: inout R) -> UInt64 {
        let shift = UInt64(min(max(attempts - 1, 0), 40))
        let ceiling = min(maxDelay, baseDelay.multipliedReportingOverflow(by: 1 << shift).overflow ? maxDelay : baseDelay << shift)
        let jittered = ceiling == 0 ? 0 : UInt64.random(in: 0...ceiling, using: &rng)
        return max(jittered, serverDelay ?? 0)
    }
}

/// Reads the rate-limit headers a server may send.
enum RateLimitHeaders {
    /// `Retry-After` as a delay in ns from now: either delta-seconds or an HTTP date
    /// (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`). Nil when absent or unreadable.
    static func retryAfter(_ value: String?, nowUnixMilliseconds: Int64) -> UInt64? {
        guard let text = value?.trimmingSpaces, !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            return min(seconds, 3600).nanoseconds
        }
        guard let date = httpDateUnixSeconds(text) else { return nil }
        let delta = Double(date * 1000 - nowUnixMilliseconds) / 1000
        return min(max(delta, 0), 3600).nanoseconds
    }

    /// With `X-RateLimit-Remaining: 0`, the delay until `X-RateLimit-Reset` (Unix seconds, or
    /// seconds from now when small), at most an hour. Nil when requests remain or unknown.
    static func exhaustedFor(remaining: String?, reset: String?, nowUnixMilliseconds: Int64) -> UInt64? {
        guard let remaining = remaining.flatMap({ Int($0.trimmingSpaces) }), remaining <= 0,
            let reset = reset.flatMap({ Double($0.trimmingSpaces) }), reset.isFinite
        else { return nil }
        let delta = reset > 1_000_000_000 ? reset - Double(nowUnixMilliseconds) / 1000 : reset
        return min(max(delta, 0), 3600).nanoseconds
    }

    /// Parses an IMF-fixdate into Unix seconds.
    static func httpDateUnixSeconds(_ text: String) -> Int64? {
        // "Sun, 06 Nov 1994 08:49:37 GMT"
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else {
            return nil
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3, (1...31).contains(day), time[0] < 24, time[1] < 60, time[2] <= 60 else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let m = monthIndex + 1
        let y = m <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86400 + Int64(time[0] * 3600 + time[1] * 60 + time[2])
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
