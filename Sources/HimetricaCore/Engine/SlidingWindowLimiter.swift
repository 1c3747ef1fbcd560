/// A sliding-window rate limiter: never more than `limit` sends in any window of `window`
/// nanoseconds, as the server counts them.
///
/// It keeps the times of the last `limit` sends; a send is allowed once the oldest of them is
/// more than a window (plus a small margin for network jitter) in the past.
struct SlidingWindowLimiter {
    let limit: Int
    let window: UInt64
    /// Extra spacing so requests that travel at slightly different speeds still land in
    /// separate windows at the server.
    static let margin: UInt64 = 50_000_000

    private var sends = FIFO<UInt64>()

    init(limit: Int, window: UInt64) {
        self.limit = limit
        self.window = window
    }

    /// The earliest monotonic time at or after `now` when one more send is allowed.
    mutating func nextAllowed(now: UInt64) -> UInt64 {
        while let oldest = sends.first, oldest &+ window &+ Self.margin <= now { _ = sends.pop() }
        guard sends.count >= limit, let oldest = sends.first else { return now }
        return oldest &+ window &+ Self.margin
    }

    /// Records a send at `now`. Call only when ``nextAllowed(now:)`` returned `now`.
    mutating func record(now: UInt64) {
        sends.push(now)
    }

    /// Moves the last `count` sends to `time` (later than they were recorded).
    mutating func restampLast(_ count: Int, at time: UInt64) {
        sends.updateLast(count) { $0 = max($0, time) }
    }
}
