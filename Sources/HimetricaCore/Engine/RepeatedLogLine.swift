import Synchronization

/// Lets a repeating log line through at most once per ``interval`` and counts the occurrences
/// it held back, so a flood (a full queue refusing every call, a server rejecting every
/// request) costs one line per interval and still tells how many there were.
///
/// Lock-free and safe from any thread. It reads no clock: callers hand it the time, so its
/// behaviour is exact under test.
///
/// Invariants: an occurrence is either the one that gets a line or counted in `heldBack`,
/// never both and never neither; a line reports (and clears) every occurrence counted before
/// it. An occurrence counted while another thread takes its line is reported with the next.
final class RepeatedLogLine: Sendable {
    /// The shortest time between two lines, in nanoseconds (5 s by default).
    let interval: UInt64
    /// Monotonic time before which no line is let through; 0 lets the first one through.
    private let quietUntil = Atomic<UInt64>(0)
    private let heldBack = Atomic<UInt64>(0)

    /// A limiter allowing one line per `interval` nanoseconds.
    init(interval: UInt64 = 5 * nanosecondsPerSecond) {
        self.interval = interval
    }

    /// Records one occurrence at monotonic time `now`. Returns nil when its line is held back,
    /// or, when the line is to be logged, how many occurrences were held back since the last one.
    func admit(now: UInt64) -> UInt64? {
        let until = quietUntil.load(ordering: .relaxed)
        guard now >= until,
            quietUntil.compareExchange(expected: until, desired: now &+ interval, ordering: .relaxed).exchanged
        else {
            heldBack.wrappingAdd(1, ordering: .relaxed)
            return nil
        }
        return heldBack.exchange(0, ordering: .relaxed)
    }

    /// The words a line adds for `count` held-back occurrences of `what` (plural), e.g.
    /// ` (1234 more calls refused since the last warning)`; empty for 0.
    static func note(_ count: UInt64, _ what: String) -> String {
        count == 0 ? "" : " (\(count) more \(what) since the last such line)"
    }
}
