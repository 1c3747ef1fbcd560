import CSQLite
import HimetricaRules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How hard each commit is pushed to the disk (`PRAGMA synchronous`).
public enum SpoolSync: String, Sendable, CaseIterable {
    /// WAL without fsync per commit: survives a crash of the process, not of the machine.
    case normal
    /// fsync each commit: also survives power loss.
    case full
}

/// The spool in SQLite: `spool.db` (WAL mode) and `sender.lock` in one directory, 0600 files
/// in a 0700 directory. Crash safety, locking between processes and recovery are SQLite's.
///
/// Invariants: row ids only grow (AUTOINCREMENT) and a transaction's rows become visible at
/// its commit, all at once, so a reader that has seen every id up to N never sees a new row
/// with a smaller id later. The sender role is an `fcntl` write lock on `sender.lock`: the OS
/// drops it when its holder dies, and a forked child does not inherit it. A finished request's
/// row stays until a compaction, listed in the `progress` row meanwhile, so readers of the
/// rows (a new sender, `spool status`) leave those out or compact first.
final class SQLiteSpool: SpoolStore {
    /// The schema this build writes (`PRAGMA user_version`). It opens schemas 1 and 2 too and
    /// moves them to this one.
    static let schemaVersion: Int32 = 3
    /// `PRAGMA application_id`: "hmsp", so another program's database is told apart.
    static let applicationId: Int32 = 0x686D_7370
    static let databaseName = "spool.db"
    static let lockName = "sender.lock"

    let directory: String
    private var db: OpaquePointer?
    private var lockPath: String { directory + "/" + Self.lockName }
    private var statements: [String: OpaquePointer] = [:]
    /// The origin this connection holds the sender role for.
    private var senderOrigin: String?
    /// Send times recorded since old ones were last pruned.
    private var sendsSincePrune = 0
    /// The finished rows this connection, as the sender, listed in the progress row and has
    /// not deleted yet.
    private var finished: [Int64] = []
    /// Finished rows are deleted once this many wait, or when nothing is in flight: one
    /// delete of many neighbouring rows writes far fewer pages than one per turn.
    static let compactAfter = 256
    /// The page size of a new spool's database (SQLite's default is 4096).
    static let pageSize = 8192

    /// Opens (or creates) the spool in `directory`. A database that SQLite finds corrupt is
    /// moved aside to `spool.db.corrupt-<unix time>` (reported through `movedAside`) and a
    /// fresh one started.
    ///
    /// - Throws: ``SpoolError`` naming the path and the cause: not a directory, not
    ///   writable, not a Himetrica spool, a newer schema.
    init(directory: String, sync: SpoolSync = .normal, movedAside: (String) -> Void = { _ in }) throws(SpoolError) {
        try Self.prepareDirectory(directory)
        // One name per directory, so two engines of a process share its one lock entry.
        if let resolved = realpath(directory, nil) {
            self.directory = String(cString: resolved)
            free(resolved)
        } else {
            self.directory = directory
        }
        let path = self.directory + "/" + Self.databaseName
        do {
            try open(path, sync: sync)
        } catch let error where error.corrupt {
            closeDatabase()
            let aside = path + ".corrupt-\(time(nil))"
            for suffix in ["", "-wal", "-shm"] { _ = rename(path + suffix, aside + suffix) }
            movedAside(aside)
            do throws(Failure) {
                try open(path, sync: sync)
            } catch {
                closeDatabase()
                throw error.spoolError
            }
        } catch {
            closeDatabase()
            throw error.spoolError
        }
    }

    deinit {
        releaseSenderRole()
        closeDatabase()
    }

    // MARK: SpoolStore

    func commit(_ batch: SpoolBatch) throws(SpoolError) -> SpoolCommitted {
        guard !batch.isEmpty else { return SpoolCommitted() }
        var committed = SpoolCommitted()
        committed.ids.reserveCapacity(batch.inserts.count)
        var finished = self.finished
        try inWriteTransaction { () throws(Failure) in
            try insert(batch.inserts, ids: &committed.ids)
            if batch.inFlight != nil || !batch.removed.isEmpty {
                finished += batch.removed.map(\.id)
                if finished.count >= Self.compactAfter || batch.inFlight?.isEmpty == true {
                    try deleteRows(finished)
                    finished = []
                }
                try recordProgress(inFlight: batch.inFlight, finished: finished)
            }
            try countWaiting(batch)
            if !batch.sends.isEmpty {
                let fingerprint = batch.fingerprint
                let send = try statement("INSERT INTO sends(fingerprint, endpoint, at) VALUES (?,?,?)")
                for (endpoint, at) in batch.sends {
                    bind(send, 1, fingerprint)
                    sqlite3_bind_int(send, 2, Int32(endpoint.rawValue))
                    sqlite3_bind_int64(send, 3, at)
                    try step(send)
                }
                // A window is at most a day long: older send times can never matter. Pruned
                // now and then, not in every commit (each commit writes every page it touches).
                sendsSincePrune += batch.sends.count
                if sendsSincePrune >= 1000 {
                    let prune = try statement("DELETE FROM sends WHERE fingerprint = ? AND at < ?")
                    bind(prune, 1, fingerprint)
                    sqlite3_bind_int64(prune, 2, batch.sends[0].at - 86_400_000)
                    try step(prune)
                    sendsSincePrune = 0
                }
            }
        }
        self.finished = finished
        return committed
    }

    /// The most rows one insert statement writes: a statement's run (its start, and the
    /// AUTOINCREMENT counter read and written back) costs more than the row it inserts.
    static let insertChunk = 16
    private static let insertOne = insert(rows: 1)
    private static let insertMany = insert(rows: insertChunk)
    private static func insert(rows: Int) -> String {
        "INSERT INTO requests(fingerprint, endpoint, lane_kind, lane_value, linked_kind, linked_value, body, captured_at, origin, attempts) VALUES "
            + repeatElement("(?,?,?,?,?,?,?,?,?,?)", count: rows).joined(separator: ",")
    }

    /// Inserts `rows` in order, `insertChunk` at a time; appends the ids they get to `ids`.
    private func insert(_ rows: [SpoolRow], ids: inout [Int64]) throws(Failure) {
        var start = 0
        while start < rows.count {
            let count = rows.count - start >= Self.insertChunk ? Self.insertChunk : 1
            let insert = try statement(count == 1 ? Self.insertOne : Self.insertMany)
            for (offset, row) in rows[start..<(start + count)].enumerated() {
                bind(insert, Int32(offset * 10), row)
            }
            try step(insert)
            // The statement's rows got consecutive ids: this transaction holds the write lock.
            let last = sqlite3_last_insert_rowid(db)
            ids.append(contentsOf: (last - Int64(count) + 1)...last)
            start += count
        }
    }

    /// Binds `row` to the ten parameters after `base` of an insert.
    private func bind(_ insert: OpaquePointer, _ base: Int32, _ row: SpoolRow) {
        bind(insert, base + 1, row.fingerprint)
        sqlite3_bind_int(insert, base + 2, Int32(row.endpoint.rawValue))
        bind(insert, base + 3, row.identity.field)
        bind(insert, base + 4, row.identity.value)
        if let linked = row.linked {
            bind(insert, base + 5, linked.field)
            bind(insert, base + 6, linked.value)
        } else {
            sqlite3_bind_null(insert, base + 5)
            sqlite3_bind_null(insert, base + 6)
        }
        bind(insert, base + 7, bytesOf: row.body)
        sqlite3_bind_int64(insert, base + 8, row.capturedAt)
        bind(insert, base + 9, row.origin)
        sqlite3_bind_int(insert, base + 10, Int32(row.attempts))
    }

    /// One small row rewritten per turn: the rows in flight (nil: as recorded) and the
    /// finished ones not deleted yet.
    private func recordProgress(inFlight: [Int64]?, finished: [Int64]) throws(Failure) {
        let record = try statement(
            "INSERT INTO progress(id, in_flight, finished) VALUES (1, coalesce(?1, x''), ?2) ON CONFLICT(id) DO UPDATE SET in_flight = coalesce(?1, in_flight), finished = ?2"
        )
        if let inFlight {
            bind(record, 1, bytesOf: inFlight)
        } else {
            sqlite3_bind_null(record, 1)
        }
        bind(record, 2, bytesOf: finished)
        try step(record)
    }

    /// Deletes the requests of `ids`, in id order (neighbours share pages); each run of
    /// consecutive ids (a single id is a run of one) in one statement, which walks the rows
    /// instead of looking each one up.
    private func deleteRows(_ ids: [Int64]) throws(Failure) {
        let sorted = ids.sorted()
        let delete = try statement("DELETE FROM requests WHERE id BETWEEN ? AND ?")
        var start = 0
        while start < sorted.count {
            var end = start
            while end + 1 < sorted.count, sorted[end + 1] == sorted[end] + 1 { end += 1 }
            sqlite3_bind_int64(delete, 1, sorted[start])
            sqlite3_bind_int64(delete, 2, sorted[end])
            try step(delete)
            start = end + 1
        }
    }

    /// The ids in a blob column of the current row (64-bit, native order).
    private func ids(_ statement: OpaquePointer, _ column: Int32) -> [Int64] {
        let bytes = UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, column), count: Int(sqlite3_column_bytes(statement, column)))
        return stride(from: 0, to: bytes.count - 7, by: 8).map { bytes.loadUnaligned(fromByteOffset: $0, as: Int64.self) }
    }

    /// The finished rows listed in the progress row, not deleted yet.
    private func listedFinished() throws(Failure) -> [Int64] {
        let query = try statement("SELECT finished FROM progress WHERE id = 1")
        defer { sqlite3_reset(query) }
        return try step(query, reset: false) ? ids(query, 0) : []
    }

    func compact() throws(SpoolError) {
        guard !finished.isEmpty else { return }
        try inWriteTransaction { () throws(Failure) in
            try deleteRows(finished)
            try recordProgress(inFlight: nil, finished: [])
        }
        finished = []
    }

    /// Runs `body` in one write transaction: committed whole, or rolled back whole.
    private func inWriteTransaction(_ body: () throws(Failure) -> Void) throws(SpoolError) {
        do throws(Failure) {
            try step(try statement("BEGIN IMMEDIATE"))
            do throws(Failure) {
                try body()
                try step(try statement("COMMIT"))
            } catch {
                try? exec("ROLLBACK")
                throw error
            }
        } catch {
            throw error.spoolError
        }
    }

    func adoptProgress() throws(SpoolError) {
        try inWriteTransaction { () throws(Failure) in
            // The progress row read once: what was in flight, and what finished.
            var started: [Int64] = []
            var listed: [Int64] = []
            let progress = try statement("SELECT in_flight, finished FROM progress WHERE id = 1")
            if try step(progress, reset: false) {
                started = ids(progress, 0)
                listed = ids(progress, 1)
            }
            sqlite3_reset(progress)
            // A schema-2 sender (a rolling deploy) records each turn's starts as a row.
            let entries = try statement("SELECT rows FROM starts")
            while try step(entries, reset: false) { started += ids(entries, 0) }
            sqlite3_reset(entries)
            // Nothing to adopt writes nothing: a takeover needs no disk space (the disk may be
            // full, which is why the predecessor gave the role up).
            guard !listed.isEmpty || !started.isEmpty else { return }
            try deleteRows(listed)
            let attempt = try statement("UPDATE requests SET attempts = attempts + 1 WHERE id = ?")
            for id in started {
                sqlite3_bind_int64(attempt, 1, id)
                try step(attempt)
            }
            try exec("DELETE FROM starts; DELETE FROM progress")
        }
        finished = []
    }

    func load(fingerprint: String, after: Int64, limit: Int) throws(SpoolError) -> SpoolLoad {
        do {
            let load = try statement(
                "SELECT id, fingerprint, endpoint, lane_kind, lane_value, linked_kind, linked_value, body, captured_at, origin, attempts FROM requests WHERE id > ? ORDER BY id LIMIT ?"
            )
            sqlite3_bind_int64(load, 1, after)
            sqlite3_bind_int64(load, 2, Int64(limit))
            defer { sqlite3_reset(load) }
            var loaded = SpoolLoad(through: after)
            let key = Array(fingerprint.utf8)
            // Rows of one process come in runs: they share one String of their origin.
            var origin = ""
            var originBytes: [UInt8] = []
            var looked = 0
            while try step(load, reset: false) {
                looked += 1
                loaded.through = sqlite3_column_int64(load, 0)
                guard isText(load, 1, key), let endpoint = Endpoint(rawValue: Int(sqlite3_column_int(load, 2))),
                    let identity = Self.identity(text(load, 3), text(load, 4))
                else { continue }
                if !isText(load, 9, originBytes) {
                    origin = text(load, 9) ?? ""
                    originBytes = Array(origin.utf8)
                }
                let count = Int(sqlite3_column_bytes(load, 7))
                let body = count == 0 ? [] : Array(UnsafeRawBufferPointer(start: sqlite3_column_blob(load, 7), count: count).bindMemory(to: UInt8.self))
                loaded.rows.append(
                    SpoolRow(
                        id: loaded.through, fingerprint: fingerprint, endpoint: endpoint,
                        identity: identity, linked: Self.identity(text(load, 5), text(load, 6)), body: body,
                        capturedAt: sqlite3_column_int64(load, 8), origin: origin,
                        attempts: Int(sqlite3_column_int(load, 10))))
            }
            loaded.more = looked == limit
            return loaded
        } catch {
            throw error.spoolError
        }
    }

    func count(origin: String?) throws(SpoolError) -> Int {
        do {
            let query = try statement(
                origin == nil ? "SELECT total(waiting) FROM origins" : "SELECT total(waiting) FROM origins WHERE origin = ?")
            if let origin { bind(query, 1, origin) }
            defer { sqlite3_reset(query) }
            _ = try step(query, reset: false)
            return Int(sqlite3_column_int64(query, 0))
        } catch {
            throw error.spoolError
        }
    }

    /// Moves each origin's count of waiting rows by the batch's inserts and removals (in the
    /// batch's transaction). An origin whose rows are all gone loses its entry.
    private func countWaiting(_ batch: SpoolBatch) throws(Failure) {
        // Rows come in runs of one origin: each run is added up before it is looked up.
        var change: [String: Int64] = [:]
        var run: (origin: String, delta: Int64)?
        func count(_ origin: String, _ delta: Int64) {
            if run?.origin == origin {
                run!.delta += delta
                return
            }
            if let run { change[run.origin, default: 0] += run.delta }
            run = (origin, delta)
        }
        for row in batch.inserts { count(row.origin, 1) }
        for (_, origin) in batch.removed { count(origin, -1) }
        if let run { change[run.origin, default: 0] += run.delta }
        guard !change.isEmpty else { return }
        let add = try statement(
            "INSERT INTO origins(origin, waiting) VALUES (?, ?) ON CONFLICT(origin) DO UPDATE SET waiting = waiting + excluded.waiting")
        let prune = try statement("DELETE FROM origins WHERE origin = ? AND waiting <= 0")
        for (origin, delta) in change where delta != 0 {
            bind(add, 1, origin)
            sqlite3_bind_int64(add, 2, delta)
            try step(add)
            if delta < 0 {
                bind(prune, 1, origin)
                try step(prune)
            }
        }
    }

    func sends(fingerprint: String, endpoint: Endpoint, since: Int64) throws(SpoolError) -> [Int64] {
        do {
            let query = try statement("SELECT at FROM sends WHERE fingerprint = ? AND endpoint = ? AND at >= ? ORDER BY at")
            bind(query, 1, fingerprint)
            sqlite3_bind_int(query, 2, Int32(endpoint.rawValue))
            sqlite3_bind_int64(query, 3, since)
            defer { sqlite3_reset(query) }
            var times: [Int64] = []
            while try step(query, reset: false) { times.append(sqlite3_column_int64(query, 0)) }
            return times
        } catch {
            throw error.spoolError
        }
    }

    func bytes() -> Int64 {
        let path = directory + "/" + Self.databaseName
        return [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            var info = stat()
            return stat(file, &info) == 0 ? total + Int64(info.st_size) : total
        }
    }

    func takeSenderRole(origin: String, pid: Int32) -> Bool {
        if senderOrigin == origin { return true }
        guard SenderLock.take(lockPath, holder: origin) else { return false }
        senderOrigin = origin
        do {
            let record = try statement("INSERT OR REPLACE INTO sender(id, origin, pid, since) VALUES (1, ?, ?, ?)")
            bind(record, 1, origin)
            sqlite3_bind_int64(record, 2, Int64(pid))
            sqlite3_bind_int64(record, 3, Int64(time(nil)))
            try step(record)
        } catch {
            // Only informational (for `spool status`); the lock is what counts.
        }
        return true
    }

    func releaseSenderRole() {
        if let senderOrigin { SenderLock.release(lockPath, holder: senderOrigin) }
        senderOrigin = nil
    }

    func abandonAfterFork() {
        // Deliberately leaked: closing would release the parent's POSIX locks.
        db = nil
        statements = [:]
        senderOrigin = nil
        SenderLock.resetAfterFork()
    }

    // MARK: Status (for operators)

    /// What waits, per endpoint and key fingerprint (finished rows not deleted yet left out).
    func summaries() throws(SpoolError) -> [SpoolSummary] {
        do throws(Failure) {
            try exec("BEGIN")
            defer { try? exec("COMMIT") }
            let finished = try listedFinished().map(String.init).joined(separator: ",")
            var query: OpaquePointer?
            let sql = "SELECT endpoint, fingerprint, count(*), min(captured_at) FROM requests WHERE id NOT IN (\(finished)) GROUP BY endpoint, fingerprint ORDER BY endpoint, fingerprint"
            let rc = sqlite3_prepare_v2(db, sql, -1, &query, nil)
            guard rc == SQLITE_OK, let query else { throw failure(rc) }
            defer { sqlite3_finalize(query) }
            var out: [SpoolSummary] = []
            while try step(query, reset: false) {
                guard let endpoint = Endpoint(rawValue: Int(sqlite3_column_int(query, 0))) else { continue }
                out.append(
                    SpoolSummary(
                        endpoint: endpoint, fingerprint: text(query, 1) ?? "", count: Int(sqlite3_column_int64(query, 2)),
                        oldest: sqlite3_column_int64(query, 3)))
            }
            return out
        } catch {
            throw error.spoolError
        }
    }

    /// The process holding the sender role now, as the OS knows it, if any.
    func senderPid() -> Int32? { SenderLock.holderPid(lockPath) }

    // MARK: Opening

    private static func prepareDirectory(_ directory: String) throws(SpoolError) {
        guard !directory.isEmpty else { throw SpoolError(message: "must not be empty") }
        var info = stat()
        if stat(directory, &info) != 0 {
            if mkdir(directory, 0o700) == 0 {
                chmod(directory, 0o700)
            } else if hm_errno() != EEXIST {
                throw SpoolError(message: "\(directory): cannot create the directory (\(errnoText()))")
            }
            // Made here, or a moment ago by another process (a sibling worker opening it too).
            guard stat(directory, &info) == 0 else {
                throw SpoolError(message: "\(directory): cannot create the directory (\(errnoText()))")
            }
        }
        if hm_is_directory(info.st_mode) == 0 {
            throw SpoolError(message: "\(directory): is not a directory")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw SpoolError(message: "\(directory): the directory is not writable (\(errnoText()))")
        }
    }

    private func open(_ path: String, sync: SpoolSync) throws(Failure) {
        // Created here first so it is 0600 whatever the umask (SQLite gives -wal/-shm the same).
        let fd = hm_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Failure(code: SQLITE_CANTOPEN, message: "\(path): cannot open (\(Self.errnoText()))")
        }
        Glibc.close(fd)
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK else { throw failure(rc, path) }
        sqlite3_busy_timeout(db, 5000)
        // Set before a new database's first write (an existing one keeps its own). A row is
        // ~0.4 KiB: pages of 8 KiB halve the pages, and the WAL's writes, per stored row.
        try exec("PRAGMA page_size=\(Self.pageSize)", path: path)
        try enterWALMode(path)
        try exec("PRAGMA synchronous=\(sync == .full ? "FULL" : "NORMAL")", path: path)
        // Checked and created (or upgraded) under the write lock, so processes opening a new
        // spool at once (the workers of one server) never see another's half-made one.
        try exec("BEGIN IMMEDIATE", path: path)
        do throws(Failure) {
            try prepareSchema(path)
            try exec("COMMIT", path: path)
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    /// Switches the database to WAL mode. A switch that meets another process's (or its first
    /// read of a new file) fails busy at once, without the busy handler: it is tried again,
    /// for up to the busy timeout.
    private func enterWALMode(_ path: String) throws(Failure) {
        let deadline = time(nil) + 5
        var random = SystemRandomNumberGenerator()
        while true {
            let rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nil, nil, nil)
            if rc == SQLITE_OK { return }
            guard rc & 0xFF == SQLITE_BUSY, time(nil) < deadline else { throw failure(rc, path) }
            usleep(1000 + UInt32(random.next() % 4000))
        }
    }

    /// Creates the tables in a new database, or checks an existing one and upgrades an older
    /// schema. Call in a write transaction.
    private func prepareSchema(_ path: String) throws(Failure) {
        let application = try integer("PRAGMA application_id", path: path)
        let version = try integer("PRAGMA user_version", path: path)
        let tables = try integer("SELECT count(*) FROM sqlite_master", path: path)
        if application == 0, version == 0, tables == 0 {
            try exec(
                """
                CREATE TABLE requests(
                  id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, endpoint INTEGER NOT NULL,
                  lane_kind TEXT NOT NULL, lane_value TEXT NOT NULL, linked_kind TEXT, linked_value TEXT,
                  body BLOB NOT NULL, captured_at INTEGER NOT NULL, origin TEXT NOT NULL,
                  attempts INTEGER NOT NULL DEFAULT 0);
                \(Self.version2Tables)
                \(Self.version3Tables)
                CREATE TABLE sends(fingerprint TEXT NOT NULL, endpoint INTEGER NOT NULL, at INTEGER NOT NULL);
                CREATE INDEX sends_by_key ON sends(fingerprint, endpoint, at);
                CREATE TABLE sender(id INTEGER PRIMARY KEY CHECK (id = 1), origin TEXT, pid INTEGER, since INTEGER);
                PRAGMA application_id=\(Self.applicationId);
                PRAGMA user_version=\(Self.schemaVersion);
                """, path: path)
            return
        }
        guard application == Int64(Self.applicationId) else {
            throw Failure(code: SQLITE_MISMATCH, message: "\(path): is not a Himetrica spool (another program's database)")
        }
        guard version <= Int64(Self.schemaVersion) else {
            throw Failure(
                code: SQLITE_MISMATCH,
                message: "\(path): was written by a newer version of the toolkit (schema \(version); this one reads up to \(Self.schemaVersion))")
        }
        // Processes of an older build may still use this spool (a rolling deploy): what they
        // use stays. Schema 1 indexed every row by origin (it counts its own rows with that
        // index) and counted attempts in every started row; 2 added a count per origin and a
        // row of starts per turn, which a new sender still adopts.
        // Builds before this one indexed the rows by key: every insert and delete paid for
        // it, and a sender reads them in id order anyway (`load`). Their queries work without.
        try exec("DROP INDEX IF EXISTS requests_by_key", path: path)
        if version < Int64(Self.schemaVersion) {
            try exec(
                """
                \(version == 1 ? Self.version2Tables + "INSERT OR REPLACE INTO origins(origin, waiting) SELECT origin, count(*) FROM requests GROUP BY origin;" : "")
                \(Self.version3Tables)
                PRAGMA user_version=\(Self.schemaVersion);
                """, path: path)
        }
    }

    /// The tables schema 2 added. `origins`: the rows waiting per origin, kept in each commit
    /// that adds or removes rows (a flush asks for its own count every poll, and an index of
    /// every row by origin cost each insert and delete more than the count saves). `starts`:
    /// each row holds the ids (64-bit, native order) of the requests one turn started:
    /// one small insert per turn instead of an attempts update of every started row.
    private static let version2Tables = """
        CREATE TABLE IF NOT EXISTS origins(origin TEXT PRIMARY KEY, waiting INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS starts(id INTEGER PRIMARY KEY, rows BLOB NOT NULL);
        """

    /// The table schema 3 added. `progress`: one row, rewritten by the sender each turn, with
    /// the requests in flight (a new sender counts them as resent) and the finished requests
    /// whose rows are not deleted yet (64-bit ids, native order). One small row per turn
    /// instead of a row of starts per turn, its delete later, and a delete per finished row.
    private static let version3Tables = """
        CREATE TABLE IF NOT EXISTS progress(id INTEGER PRIMARY KEY CHECK (id = 1), in_flight BLOB NOT NULL, finished BLOB NOT NULL);
        """

    private func closeDatabase() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    // MARK: SQLite helpers

    private func failure(_ rc: Int32, _ path: String? = nil) -> Failure {
        let detail = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
        return Failure(code: rc & 0xFF, message: "\(path ?? directory + "/" + Self.databaseName): \(detail)")
    }

    private func exec(_ sql: String, path: String? = nil) throws(Failure) {
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw failure(rc, path) }
    }

    private func integer(_ sql: String, path: String) throws(Failure) -> Int64 {
        var statement: OpaquePointer?
        var rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc, path) }
        defer { sqlite3_finalize(statement) }
        rc = sqlite3_step(statement)
        guard rc == SQLITE_ROW else { throw failure(rc, path) }
        return sqlite3_column_int64(statement, 0)
    }

    private func statement(_ sql: String) throws(Failure) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc) }
        statements[sql] = statement
        return statement
    }

    /// Steps `statement`: true while it yields rows. With `reset` (for writes) it is reset
    /// after its one step.
    @discardableResult
    private func step(_ statement: OpaquePointer, reset: Bool = true) throws(Failure) -> Bool {
        let rc = sqlite3_step(statement)
        if reset { sqlite3_reset(statement) }
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            if !reset { sqlite3_reset(statement) }
            throw failure(rc)
        }
    }

    private func bind(_ statement: OpaquePointer, _ index: Int32, _ text: String) {
        var text = text
        _ = text.withUTF8 { hm_sqlite3_bind_text(statement, index, UnsafeRawPointer($0.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self), Int32($0.count)) }
    }

    /// Binds the bytes of `values` as a blob (ids as 64-bit native order; a body as is).
    private func bind<Value>(_ statement: OpaquePointer, _ index: Int32, bytesOf values: [Value]) {
        _ = values.withUnsafeBytes { hm_sqlite3_bind_blob(statement, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count)) }
    }

    /// Whether a text column of the current row holds exactly `bytes` (without making a
    /// String of it).
    private func isText(_ statement: OpaquePointer, _ column: Int32, _ bytes: [UInt8]) -> Bool {
        guard let pointer = sqlite3_column_text(statement, column),
            Int(sqlite3_column_bytes(statement, column)) == bytes.count
        else { return false }
        return bytes.withUnsafeBytes { expected in
            guard let expected = expected.baseAddress else { return true }
            return memcmp(pointer, expected, bytes.count) == 0
        }
    }

    private func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: pointer)
    }

    private static func identity(_ field: String?, _ value: String?) -> Identity? {
        guard let field, let value else { return nil }
        switch field {
        case "userId": return .userId(value)
        case "email": return .email(value)
        case "visitorId": return .visitorId(value)
        default: return nil
        }
    }

    private static func errnoText() -> String { String(cString: hm_errno_text()) }
}

/// Why opening failed: SQLite's code and message (or ours).
private struct Failure: Error {
    var code: Int32
    var message: String
    var corrupt: Bool { code == SQLITE_CORRUPT || code == SQLITE_NOTADB }
    var spoolError: SpoolError {
        SpoolError(message: message, diskFull: code == SQLITE_FULL || code == SQLITE_IOERR)
    }
}

