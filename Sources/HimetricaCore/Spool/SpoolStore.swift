import HimetricaRules

/// A request as the spool keeps it: everything needed to send it again from any process, and
/// never the secret key (only its ``SecretKey/fingerprint(_:)``).
struct SpoolRow: Equatable {
    /// The row's id: rows of one spool are numbered in commit order, never reused.
    var id: Int64 = 0
    var fingerprint: String
    var endpoint: Endpoint
    /// The request's lane (per-identity order holds across processes and restarts).
    var identity: Identity
    /// A lane whose later requests wait for this one (identify → track by email).
    var linked: Identity?
    /// The exact HTTP body.
    var body: [UInt8]
    /// Wall-clock time of the call, Unix milliseconds (for the retry age).
    var capturedAt: Int64
    /// The process that accepted it (see ``SpoolOrigin``).
    var origin: String
    /// Attempts started, by any sender. More than 0 when loaded by a new sender: its first
    /// send is a resend (at-least-once).
    var attempts: Int = 0
}

/// One group commit: everything the flush thread writes in one turn, in one transaction.
struct SpoolBatch {
    /// The key fingerprint the send times belong to.
    var fingerprint: String
    /// New rows (their `id` is assigned by the store).
    var inserts: [SpoolRow] = []
    /// The rows whose request is in flight once this turn's requests start (nil: unchanged),
    /// committed before they are sent (see ``SpoolStore/adoptProgress()``).
    var inFlight: [Int64]?
    /// Rows whose request has its final outcome, with the origin that accepted each (its
    /// count of waiting rows goes down with them). They count as gone at once; the rows
    /// themselves are deleted in a later compaction.
    var removed: [(id: Int64, origin: String)] = []
    /// Send times to keep for the next sender's limiter: (endpoint, Unix ms).
    var sends: [(endpoint: Endpoint, at: Int64)] = []

    var isEmpty: Bool { inserts.isEmpty && inFlight == nil && removed.isEmpty && sends.isEmpty }
}

/// What a ``SpoolStore/load(fingerprint:after:limit:)`` found.
struct SpoolLoad {
    /// The rows of the key, oldest first.
    var rows: [SpoolRow] = []
    /// The last id looked at: the next load starts after it.
    var through: Int64
    /// Whether it stopped at its limit (more rows may follow).
    var more = false
}

/// What a commit assigned.
struct SpoolCommitted {
    /// The ids of the batch's inserts, in order.
    var ids: [Int64] = []
}

/// Waiting requests of one (endpoint, key fingerprint), for `himetrica spool status`.
struct SpoolSummary: Equatable {
    var endpoint: Endpoint
    var fingerprint: String
    var count: Int
    /// Capture time of the oldest, Unix milliseconds.
    var oldest: Int64
}

/// Why a spool cannot be used. The message names the path and the cause.
struct SpoolError: Error, CustomStringConvertible {
    /// What went wrong, about which file.
    var message: String
    /// The disk (or quota) is full: the engine falls back to memory.
    var diskFull = false

    var description: String { message }
}

/// The durable store under the engine's spool: SQLite in production (``SQLiteSpool``).
/// Used by the flush thread only (one connection per process, never shared with a fork).
protocol SpoolStore: AnyObject {
    /// Commits `batch` in one transaction; returns the ids it assigned.
    func commit(_ batch: SpoolBatch) throws(SpoolError) -> SpoolCommitted
    /// For a new sender: deletes the rows its predecessors finished, counts the requests they
    /// had in flight when they stopped into their rows' attempts, and forgets both.
    func adoptProgress() throws(SpoolError)
    /// Deletes the finished rows this sender has not deleted yet (before it gives the role up).
    func compact() throws(SpoolError)
    /// Looks at up to `limit` rows with ids above `after`, oldest first, and returns those of
    /// `fingerprint` (another key's rows are passed over: they wait for a process holding it).
    func load(fingerprint: String, after: Int64, limit: Int) throws(SpoolError) -> SpoolLoad
    /// Rows accepted by `origin` still waiting (nil: all rows). Cheap for an origin: a flush
    /// asks it every poll.
    func count(origin: String?) throws(SpoolError) -> Int
    /// Send times (Unix ms) of `fingerprint` to `endpoint` at or after `since`, oldest first.
    func sends(fingerprint: String, endpoint: Endpoint, since: Int64) throws(SpoolError) -> [Int64]
    /// Bytes the spool's files take on disk.
    func bytes() -> Int64
    /// Tries once, without waiting, to become the spool's one sender (records `origin` as it).
    /// True while this process holds the role.
    func takeSenderRole(origin: String, pid: Int32) -> Bool
    /// Gives the sender role up, so another process takes it at once.
    func releaseSenderRole()
    /// In a forked child: forgets the parent's connection and lock without closing them (a
    /// close would drop the parent's POSIX locks on the same files).
    func abandonAfterFork()
}

/// The name of this process's rows: its pid and a start-time nonce (pids are reused).
enum SpoolOrigin {
    static func make(pid: Int32, nonce: UInt64) -> String { "\(pid)-\(String(nonce, radix: 16))" }
}
