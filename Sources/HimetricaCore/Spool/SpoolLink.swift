import HimetricaRules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One flush-thread turn's work on the spool: prepared under the engine's lock, performed
/// (all the disk I/O) without it, then applied under it again.
struct SpoolTurn {
    /// Calls taken from the intake, to commit as rows.
    var entries: [Intake.Entry] = []
    /// What to write in this turn's one transaction (inserts are made from `entries`).
    var batch: SpoolBatch
    /// Try for the sender role this turn.
    var trySender = false
    /// Rows the sender may load (0: the window is full enough).
    var refill = 0
    /// Look for rows other processes committed.
    var lookForRows = false
    /// Count this process's rows still waiting (a flush or shutdown waits for them).
    var countOwn = false

    // Results of ``SpoolLink/perform(_:nowMonotonic:nowUnix:)``.
    var committed = false
    var becameSender = false
    /// Send times (Unix ms) of the predecessor, per endpoint, when the role was taken.
    var seeds: [(endpoint: Endpoint, times: [Int64])] = []
    var loaded: [SpoolRow] = []
    /// Rows are left to read: a load stopped at its limit (having passed over another key's
    /// rows, say), or the window had no room for all the rows this turn committed. The next
    /// turn may load more at once.
    var loadsMore = false
    var ownWaiting: Int?
    /// The files' size, when measured this turn.
    var bytes: Int64?
    var error: SpoolError?
}

/// The engine's side of a spool. The store, the read cursor and `moreRows` belong to the flush
/// thread; every other field is guarded by the engine's lock (see ``Engine``).
///
/// Invariants: rows are loaded in id order with a cursor that only grows, so lanes keep
/// their order across processes; at most ``SpoolSchedule/window`` rows are in RAM; a row is
/// removed only once its request has a final outcome.
final class SpoolLink {
    /// The spool's directory, as configured.
    let path: String
    let fingerprint: String
    let maxBytes: Int64
    /// The window (ns) of each endpoint's limit, for seeding a new sender's limiter.
    let windows: [(endpoint: Endpoint, window: UInt64)]
    /// The spooled endpoints without a limit (their send times need not be kept).
    let unlimited: [Endpoint]
    private let open: () throws(SpoolError) -> any SpoolStore

    // Flush thread only.
    private var store: (any SpoolStore)?
    private var cursor: Int64 = 0
    private var moreRows = true

    // Guarded by the engine's lock.
    /// This process's rows are named by it.
    private(set) var origin: String
    var schedule: SpoolSchedule
    private(set) var isSender = false
    /// Rows whose request has its outcome, to record at the next commit (at most a commit
    /// interval later).
    var removed: [(id: Int64, origin: String)] = []
    /// The origin of each row in the scheduler (its removal lowers that origin's count).
    private var loadedOrigins: [Int64: String] = [:]
    /// Rows whose request started and has no final outcome yet.
    var inFlight: Set<Int64> = []
    /// The rows the last commit recorded as in flight (``SpoolBatch/inFlight``): those in
    /// flight then and the next ones to start. A row in it may start without a commit first.
    var recorded: Set<Int64> = []
    /// Rows in the scheduler.
    var loaded: Int { loadedOrigins.count }
    /// This process's rows in the spool: exact after a count, an upper bound between counts
    /// (lowered by the rows this process committed the outcomes of).
    var ownWaiting = 0
    /// Calls taken from the intake and not yet committed.
    var committing = 0
    /// The spool failed at run time: the engine works in memory from then on.
    private(set) var failed = false
    var spooled: UInt64 = 0
    var bytes: UInt64 = 0
    var errors: UInt64 = 0

    init(
        path: String, fingerprint: String, configuration: Configuration, store: any SpoolStore,
        open: @escaping () throws(SpoolError) -> any SpoolStore
    ) {
        self.path = path
        self.fingerprint = fingerprint
        self.open = open
        self.store = store
        maxBytes = Int64(configuration.spoolMaxBytes)
        let windows = [Endpoint.track, .identify].compactMap { endpoint in
            (configuration.rateLimits[endpoint] ?? nil).map { (endpoint: endpoint, window: $0.window.nanoseconds) }
        }
        self.windows = windows
        unlimited = [Endpoint.track, .identify].filter { endpoint in !windows.contains { $0.endpoint == endpoint } }
        schedule = SpoolSchedule(
            commitInterval: configuration.spoolCommitInterval.nanoseconds,
            window: min(configuration.queueCapacity, 2048))
        origin = Self.newOrigin()
    }

    private static func newOrigin() -> String {
        var random = SystemRandomNumberGenerator()
        return SpoolOrigin.make(pid: getpid(), nonce: random.next())
    }

    /// Does the turn's disk I/O (flush thread, engine lock not held).
    func perform(_ turn: inout SpoolTurn, nowMonotonic: UInt64, nowUnix: Int64) {
        do throws(SpoolError) {
            if store == nil { store = try open() }
            guard let store else { return }
            turn.batch.inserts = turn.entries.map { entry in
                SpoolRow(
                    fingerprint: fingerprint, endpoint: entry.endpoint, identity: entry.identity, linked: entry.linked,
                    body: entry.body, capturedAt: Self.unixTime(ofMonotonic: entry.queuedAt, now: nowMonotonic, nowUnix: nowUnix),
                    origin: origin)
            }
            let committed = try store.commit(turn.batch)
            turn.committed = true
            var sender = isSender
            if turn.trySender, store.takeSenderRole(origin: origin, pid: getpid()) {
                sender = true
                turn.becameSender = true
                try store.adoptProgress()
                cursor = 0
                moreRows = true
                for (endpoint, window) in windows {
                    let since = nowUnix - Int64(window / 1_000_000) - 1000
                    turn.seeds.append((endpoint, try store.sends(fingerprint: fingerprint, endpoint: endpoint, since: since)))
                }
            }
            if sender, turn.refill > 0 {
                var refill = turn.refill
                let taken = takeOwnRows(turn.batch.inserts, ids: committed.ids, limit: refill, into: &turn)
                refill -= taken
                if refill > 0, moreRows || turn.lookForRows || turn.becameSender || (taken == 0 && !turn.entries.isEmpty) {
                    let load = try store.load(fingerprint: fingerprint, after: cursor, limit: refill)
                    turn.loaded += load.rows
                    cursor = load.through
                    moreRows = load.more
                }
                turn.loadsMore = moreRows
            }
            if turn.countOwn { turn.ownWaiting = try store.count(origin: origin) }
            // Three stat calls: only when rows came in, and now and then for the stats.
            if !turn.entries.isEmpty || turn.lookForRows || turn.becameSender { turn.bytes = store.bytes() }
        } catch {
            turn.error = error
            // This process sends from memory from now on: another one may send the spool's rows.
            store?.releaseSenderRole()
        }
    }

    /// Takes up to `limit` of the rows this turn committed straight into the window, without
    /// reading them back, when they come right after the cursor and nothing unread is before
    /// them (their ids follow the last id looked at, so no other process's row sits among or
    /// before them). Returns how many it took. Flush thread.
    private func takeOwnRows(_ rows: [SpoolRow], ids: [Int64], limit: Int, into turn: inout SpoolTurn) -> Int {
        guard !turn.becameSender, !moreRows, let first = ids.first, first == cursor + 1 else { return 0 }
        let taken = min(limit, ids.count)
        for index in 0..<taken {
            var row = rows[index]
            row.id = ids[index]
            turn.loaded.append(row)
        }
        cursor = ids[taken - 1]
        moreRows = taken < ids.count
        return taken
    }

    /// Records the turn's results (engine lock held).
    func apply(_ turn: SpoolTurn) {
        committing -= turn.entries.count
        if turn.committed {
            spooled += UInt64(turn.entries.count)
            ownWaiting += turn.entries.count
            // This process's rows whose outcomes the commit recorded are gone: a flush waiting
            // for them ends now, not at the next count.
            ownWaiting = max(0, ownWaiting - turn.batch.removed.reduce(0) { $1.origin == origin ? $0 + 1 : $0 })
        }
        if turn.becameSender { isSender = true }
        for row in turn.loaded { loadedOrigins[row.id] = row.origin }
        if let own = turn.ownWaiting { ownWaiting = own }
        if turn.error == nil, let measured = turn.bytes { bytes = UInt64(max(measured, 0)) }
        if turn.error != nil {
            failed = true
            errors += 1
            isSender = false
        }
    }

    /// A loaded row's request has its final outcome: a commit within the commit interval
    /// records it, and the row counts as gone from then (it is deleted in a later compaction).
    func finished(_ row: Int64) {
        guard let origin = loadedOrigins.removeValue(forKey: row) else { return }
        inFlight.remove(row)
        guard !failed else { return }
        removed.append((row, origin))
    }

    /// The last words of a spool at the end of the engine: how many requests wait in it.
    /// Gives the sender role up. Flush thread, lock not held.
    func close() -> Int? {
        guard let store, !failed else { return nil }
        // Left undone, the next sender does it when it takes over.
        try? store.compact()
        store.releaseSenderRole()
        return try? store.count(origin: nil)
    }

    /// Marks the role given up (engine lock held), after ``close()``.
    func closed() { isSender = false }

    /// In a forked child: the parent's connection is abandoned (never used, never closed)
    /// and a fresh one opened on the child's flush thread; the child's rows get its own name.
    func resetAfterFork() {
        store?.abandonAfterFork()
        store = nil
        cursor = 0
        moreRows = true
        origin = Self.newOrigin()
        isSender = false
        removed = []
        loadedOrigins = [:]
        inFlight = []
        recorded = []
        ownWaiting = 0
        committing = 0
        spooled = 0
        errors = 0
        schedule = SpoolSchedule(commitInterval: schedule.commitInterval, window: schedule.window)
    }
}

extension SpoolLink {
    /// The Unix time (ms) of monotonic time `at`. A call may be stamped after `now` was read:
    /// such times are `nowUnix`.
    static func unixTime(ofMonotonic at: UInt64, now: UInt64, nowUnix: Int64) -> Int64 {
        nowUnix - Int64(now > at ? (now - at) / 1_000_000 : 0)
    }

    /// The monotonic time of Unix time `at` (ms), never after `now`, never before 0 (a row may
    /// be older than this boot, or its clock may have been wrong).
    static func monotonicTime(ofUnix at: Int64, now: UInt64, nowUnix: Int64) -> UInt64 {
        let (milliseconds, wrapped) = nowUnix.subtractingReportingOverflow(at)
        let age = UInt64(clamping: milliseconds).multipliedReportingOverflow(by: 1_000_000)
        return wrapped || age.overflow || age.partialValue > now ? 0 : now - age.partialValue
    }
}
