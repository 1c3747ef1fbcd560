/// When the flush thread touches the spool: commits, records outcomes, tries for the sender
/// role, refills its window of rows, looks for its own rows. Pure: handed the time, so tests
/// drive it exactly.
///
/// Invariants: a call waits in the intake at most one commit interval after the previous
/// commit (so a SIGKILL loses at most that window), and so does a request's outcome; a process
/// that is not the sender tries for the role at least every ``senderRetry``; at most
/// ``window`` rows are in RAM.
struct SpoolSchedule {
    /// Longest time between commits while calls wait (``Configuration/spoolCommitInterval``).
    let commitInterval: UInt64
    /// How often a writer tries to become the sender (a takeover comes within 1 s).
    let senderRetry: UInt64 = 250_000_000
    /// How often the sender looks for rows other processes committed, and a flush for its
    /// rows sent by another process.
    let pollInterval: UInt64 = 50_000_000
    /// The most rows loaded into the scheduler at once.
    let window: Int

    private var lastCommit: UInt64?
    private var outcomesSince: UInt64?
    private var lastSenderTry: UInt64?
    private var lastPoll: UInt64?

    init(commitInterval: UInt64, window: Int) {
        self.commitInterval = commitInterval
        self.window = window
    }

    /// When the calls waiting now are committed: at once after a quiet interval, else at the
    /// end of the current one, so a burst shares one transaction.
    func commitAt(now: UInt64) -> UInt64 {
        guard let lastCommit else { return now }
        return max(now, lastCommit &+ commitInterval)
    }

    /// A commit of waiting calls happened at `now`.
    mutating func committed(now: UInt64) { lastCommit = now }

    /// A flush waits for the calls waiting now: they are committed at once, not at the end of
    /// the current interval (later calls share commits again).
    mutating func commitNow() { lastCommit = nil }

    /// Outcomes wait to be recorded at `now` (the first one counts).
    mutating func outcomesWaiting(now: UInt64) {
        if outcomesSince == nil { outcomesSince = now }
    }

    /// When the outcomes waiting are recorded: at most one commit interval after the first,
    /// so a commit records the outcomes of many answers (a SIGKILL sends at most those again).
    func outcomesDueAt(now: UInt64) -> UInt64 {
        guard let outcomesSince else { return now }
        return max(now, outcomesSince &+ commitInterval)
    }

    /// The outcomes waiting were committed.
    mutating func outcomesRecorded() { outcomesSince = nil }

    /// When a writer next tries for the sender role.
    func senderTryAt(now: UInt64) -> UInt64 {
        guard let lastSenderTry else { return now }
        return max(now, lastSenderTry &+ senderRetry)
    }

    /// A try for the sender role happened at `now`.
    mutating func triedSender(now: UInt64) { lastSenderTry = now }

    /// When the spool is next looked at for rows others committed (or own rows sent).
    func pollAt(now: UInt64) -> UInt64 {
        guard let lastPoll else { return now }
        return max(now, lastPoll &+ pollInterval)
    }

    /// The spool was looked at `now`.
    mutating func polled(now: UInt64) { lastPoll = now }

    /// How many rows to load with `loaded` in RAM: none while more than half the window is
    /// loaded (refills come in large reads, not one row per answer).
    func refill(loaded: Int) -> Int {
        loaded * 2 > window ? 0 : window - loaded
    }
}
