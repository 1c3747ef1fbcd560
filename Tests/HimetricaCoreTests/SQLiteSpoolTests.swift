import CSQLite
import HimetricaRules
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under /tmp for one test (removed by `cleanup`).
func temporaryDirectory(_ name: String = "spool") -> String {
    var template = Array("/tmp/himetrica-\(name)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    return path
}

func removeTree(_ path: String) {
    _ = system("rm -rf '\(path)'")
}

func spoolRow(_ n: Int, fingerprint: String = "fp_a", origin: String = "o1", identity: Identity? = nil, linked: Identity? = nil) -> SpoolRow {
    SpoolRow(
        fingerprint: fingerprint, endpoint: .track, identity: identity ?? .visitorId("v\(n % 3)"), linked: linked,
        body: Array("{\"eventName\":\"e\(n)\"}".utf8), capturedAt: 1_700_000_000_000 + Int64(n), origin: origin)
}

private func mode(_ path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
}

/// The first column of the first row of `sql` on `path`, read with a connection of its own.
private func sqliteInteger(_ path: String, _ sql: String) -> Int64? {
    var db: OpaquePointer?
    var statement: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { return nil }
    defer { sqlite3_finalize(statement) }
    return sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : nil
}

/// Runs `sql` on `path` with a connection of its own (as another program would).
private func sqlite(_ path: String, _ sql: String) {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    sqlite3_exec(db, sql, nil, nil, nil)
    sqlite3_close(db)
}

@Suite struct SQLiteSpoolTests {
    @Test func createsAPrivateDirectoryAndFilesInWALMode() throws {
        let root = temporaryDirectory()
        defer { removeTree(root) }
        let dir = root + "/spool"
        let store = try SQLiteSpool(directory: dir)
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(1)]))
        #expect(mode(dir) == 0o700)
        #expect(mode(dir + "/spool.db") == 0o600)
        #expect(mode(dir + "/spool.db-wal") == 0o600)
        #expect(store.bytes() > 0)
        var db: OpaquePointer?
        sqlite3_open(dir + "/spool.db", &db)
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &statement, nil)
        sqlite3_step(statement)
        #expect(String(cString: sqlite3_column_text(statement, 0)) == "wal")
        sqlite3_finalize(statement)
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nil)
        sqlite3_step(statement)
        #expect(sqlite3_column_int(statement, 0) == SQLiteSpool.schemaVersion)
        sqlite3_finalize(statement)
        #expect(sqliteInteger(dir + "/spool.db", "PRAGMA page_size") == Int64(SQLiteSpool.pageSize))
    }

    @Test func rowsComeBackInCommitOrderPerKeyAfterACursor() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let store = try SQLiteSpool(directory: dir)
        let ids = try store.commit(
            SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(1), spoolRow(2, fingerprint: "fp_b"), spoolRow(3, linked: .email("a@b.c"))])
        ).ids
        #expect(ids.count == 3 && ids[0] < ids[1] && ids[1] < ids[2])
        let more = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(4)])).ids
        #expect(more[0] > ids[2])

        let rows = try store.load(fingerprint: "fp_a", after: 0, limit: 10).rows
        #expect(rows.map(\.id) == [ids[0], ids[2], more[0]])
        #expect(rows[0] == { var r = spoolRow(1); r.id = ids[0]; return r }())
        #expect(rows[1].linked == .email("a@b.c"))
        #expect(try store.load(fingerprint: "fp_b", after: 0, limit: 10).rows.map(\.id) == [ids[1]])
        // A load looks at `limit` rows and passes over another key's, once: the cursor moves on.
        let all = try store.load(fingerprint: "fp_a", after: 0, limit: 10)
        #expect(all.through == more[0] && !all.more)
        let passed = try store.load(fingerprint: "fp_a", after: ids[0], limit: 1)
        #expect(passed.rows.isEmpty && passed.through == ids[1] && passed.more)
        #expect(try store.load(fingerprint: "fp_a", after: passed.through, limit: 1).rows.map(\.id) == [ids[2]])
    }

    @Test func manyRowsInOneCommitComeBackExactlyAndFinishedOnesGoExactly() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let store = try SQLiteSpool(directory: dir)
        // More than two insert statements' worth, and some left over for single inserts.
        let count = 2 * SQLiteSpool.insertChunk + 7
        let inserted = (0..<count).map { n in
            var row = spoolRow(n, origin: "o\(n % 2)", identity: n % 5 == 0 ? .email("p\(n)@q.r") : nil, linked: n % 3 == 0 ? .visitorId("w\(n)") : nil)
            row.attempts = n % 4
            row.endpoint = n % 6 == 0 ? .identify : .track
            return row
        }
        let ids = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: inserted)).ids
        #expect(ids == Array(ids[0]..<(ids[0] + Int64(count))))
        let reopened = try SQLiteSpool(directory: dir)
        let loaded = try reopened.load(fingerprint: "fp_a", after: 0, limit: 100).rows
        #expect(loaded == zip(inserted, ids).map { row, id in var row = row; row.id = id; return row })
        #expect(try reopened.count(origin: "o0") == (count + 1) / 2)
        // Finished: runs of neighbours and single rows; exactly those go.
        let finished = Array(ids[0..<5]) + [ids[7]] + Array(ids[9..<20]) + [ids[count - 1]]
        _ = try reopened.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [], removed: finished.map { ($0, "o1") }))
        let left = Set(ids).subtracting(finished).sorted()
        #expect(try reopened.load(fingerprint: "fp_a", after: 0, limit: 100).rows.map(\.id) == left)
        #expect(sqliteInteger(dir + "/spool.db", "SELECT count(*) FROM requests") == Int64(left.count))
    }

    @Test func aSpoolIndexedByKeyLosesTheIndexWhenOpened() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let ids = try SQLiteSpool(directory: dir).commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(1), spoolRow(2)])).ids
        // As builds before this one made every spool.
        sqlite(dir + "/spool.db", "CREATE INDEX requests_by_key ON requests(fingerprint, id)")
        let index = "SELECT count(*) FROM sqlite_master WHERE name = 'requests_by_key'"
        #expect(sqliteInteger(dir + "/spool.db", index) == 1)
        let store = try SQLiteSpool(directory: dir)
        #expect(sqliteInteger(dir + "/spool.db", index) == 0)
        #expect(try store.load(fingerprint: "fp_a", after: 0, limit: 10).rows.map(\.id) == ids)
    }

    @Test func aNewSenderCountsWhatWasInFlightAsAttempts() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let store = try SQLiteSpool(directory: dir)
        let ids = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(1), spoolRow(2, origin: "o2")])).ids
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[0], ids[1]]))
        // The second request finished; the first is still in flight when a new sender takes over.
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[0]], removed: [(ids[1], "o2")]))
        #expect(try store.count(origin: "o2") == 0)
        #expect(try store.count(origin: nil) == 1)
        let next = try SQLiteSpool(directory: dir)
        try next.adoptProgress()
        #expect(try next.load(fingerprint: "fp_a", after: 0, limit: 10).rows.map(\.attempts) == [1])
        try next.adoptProgress()
        #expect(try next.load(fingerprint: "fp_a", after: 0, limit: 10).rows.map(\.attempts) == [1], "adopted once")
        _ = try next.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [], removed: [(ids[0], "o1")]))
        #expect(try next.count(origin: "o1") == 0)
        #expect(try next.count(origin: nil) == 0)
    }

    @Test func finishedRowsCountAsGoneAtOnceAndAreDeletedTogether() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let store = try SQLiteSpool(directory: dir)
        let total = SQLiteSpool.compactAfter + 20
        let ids = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: (1...total).map { spoolRow($0) })).ids
        let allRows = "SELECT count(*) FROM requests"
        // Finished while others stay in flight: gone from every count, the rows still there.
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[11]], removed: ids[0..<10].map { ($0, "o1") }))
        #expect(try store.count(origin: "o1") == total - 10)
        #expect(try store.summaries().map(\.count) == [total - 10])
        #expect(try store.summaries().map(\.oldest) == [spoolRow(11).capturedAt])
        #expect(sqliteInteger(dir + "/spool.db", allRows) == Int64(total))
        // A new sender deletes them before it loads.
        let next = try SQLiteSpool(directory: dir)
        try next.adoptProgress()
        #expect(sqliteInteger(dir + "/spool.db", allRows) == Int64(total - 10))
        #expect(try next.load(fingerprint: "fp_a", after: 0, limit: 1).rows.map(\.id) == [ids[10]])
        #expect(try next.load(fingerprint: "fp_a", after: 0, limit: total).rows.map(\.attempts).reduce(0, +) == 1, "ids[11] was in flight")
        // It deletes its own finished rows once enough wait...
        let many = ids[10..<(10 + SQLiteSpool.compactAfter - 1)].map { ($0, "o1") }
        _ = try next.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[total - 1]], removed: many))
        #expect(sqliteInteger(dir + "/spool.db", allRows) == Int64(total - 10))
        _ = try next.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[total - 1]], removed: [(ids[265], "o1")]))
        #expect(sqliteInteger(dir + "/spool.db", allRows) == 10)
        // ...when nothing is in flight, and before it gives the role up.
        _ = try next.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[total - 1]], removed: [(ids[266], "o1")]))
        #expect(sqliteInteger(dir + "/spool.db", allRows) == 10)
        _ = try next.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [], removed: [(ids[267], "o1")]))
        #expect(sqliteInteger(dir + "/spool.db", allRows) == 8)
        _ = try next.commit(SpoolBatch(fingerprint: "fp_a", inFlight: [ids[total - 1]], removed: [(ids[268], "o1")]))
        try next.compact()
        #expect(sqliteInteger(dir + "/spool.db", allRows) == 7)
        #expect(try next.count(origin: nil) == 7)
    }

    @Test func sendTimesAreKeptPerKeyAndEndpoint() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let store = try SQLiteSpool(directory: dir)
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", sends: [(.track, 1000), (.track, 2000), (.identify, 1500)]))
        _ = try store.commit(SpoolBatch(fingerprint: "fp_b", sends: [(.track, 1700)]))
        #expect(try store.sends(fingerprint: "fp_a", endpoint: .track, since: 1500) == [2000])
        #expect(try store.sends(fingerprint: "fp_a", endpoint: .track, since: 0) == [1000, 2000])
        #expect(try store.sends(fingerprint: "fp_b", endpoint: .track, since: 0) == [1700])
    }

    @Test func rowsSurviveAReopen() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        do {
            let store = try SQLiteSpool(directory: dir, sync: .full)
            _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: (1...50).map { spoolRow($0) }))
        }
        let reopened = try SQLiteSpool(directory: dir)
        #expect(try reopened.load(fingerprint: "fp_a", after: 0, limit: 100).rows.count == 50)
        #expect(try reopened.summaries() == [SpoolSummary(endpoint: .track, fingerprint: "fp_a", count: 50, oldest: 1_700_000_000_001)])
    }

    @Test func oneSenderPerSpoolInAProcessUntilItCloses() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        var first: SQLiteSpool? = try SQLiteSpool(directory: dir)
        let second = try SQLiteSpool(directory: dir + "/.")  // the same directory by another name
        #expect(first!.takeSenderRole(origin: "a", pid: getpid()))
        #expect(first!.takeSenderRole(origin: "a", pid: getpid()))
        #expect(!second.takeSenderRole(origin: "b", pid: getpid()))
        #expect(second.senderPid() == getpid())
        first = nil
        #expect(second.takeSenderRole(origin: "b", pid: getpid()))
    }

    @Test func aNewerSchemaIsRefusedNamingThePath() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        _ = try SQLiteSpool(directory: dir)
        sqlite(dir + "/spool.db", "PRAGMA user_version=7")
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(directory: dir) }
        #expect(error?.message == "\(dir)/spool.db: was written by a newer version of the toolkit (schema 7; this one reads up to 3)")
    }

    @Test func aSchema1SpoolIsMovedToSchema3WithItsCountsPerOrigin() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        // Schema 1 as its build wrote it: rows indexed by origin, no counts.
        sqlite(
            dir + "/spool.db",
            """
            PRAGMA journal_mode=WAL;
            CREATE TABLE requests(
              id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, endpoint INTEGER NOT NULL,
              lane_kind TEXT NOT NULL, lane_value TEXT NOT NULL, linked_kind TEXT, linked_value TEXT,
              body BLOB NOT NULL, captured_at INTEGER NOT NULL, origin TEXT NOT NULL,
              attempts INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX requests_by_key ON requests(fingerprint, id);
            CREATE INDEX requests_by_origin ON requests(origin);
            CREATE TABLE sends(fingerprint TEXT NOT NULL, endpoint INTEGER NOT NULL, at INTEGER NOT NULL);
            CREATE INDEX sends_by_key ON sends(fingerprint, endpoint, at);
            CREATE TABLE sender(id INTEGER PRIMARY KEY CHECK (id = 1), origin TEXT, pid INTEGER, since INTEGER);
            INSERT INTO requests(fingerprint, endpoint, lane_kind, lane_value, body, captured_at, origin)
              VALUES ('fp_a', 0, 'visitorId', 'v1', x'7b7d', 1, 'o1'), ('fp_a', 0, 'visitorId', 'v1', x'7b7d', 2, 'o1'),
                     ('fp_a', 0, 'visitorId', 'v2', x'7b7d', 3, 'o2');
            PRAGMA application_id=\(SQLiteSpool.applicationId);
            PRAGMA user_version=1;
            """)
        let store = try SQLiteSpool(directory: dir)
        #expect(try store.count(origin: "o1") == 2)
        #expect(try store.count(origin: "o2") == 1)
        let rows = try store.load(fingerprint: "fp_a", after: 0, limit: 10).rows
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(4, origin: "o2")], removed: [(rows[0].id, "o1")]))
        #expect(try store.count(origin: "o1") == 1)
        #expect(try store.count(origin: "o2") == 2)
        let reopened = try SQLiteSpool(directory: dir)
        #expect(try reopened.count(origin: "o2") == 2)
        #expect(try reopened.count(origin: nil) == 3)
        // A spool made with SQLite's default pages keeps them.
        #expect(sqliteInteger(dir + "/spool.db", "PRAGMA page_size") == 4096)
    }

    @Test func aSchema2SpoolIsMovedToSchema3AndItsStartsAreStillAdopted() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let id = try SQLiteSpool(directory: dir).commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(1)])).ids[0]
        // As a schema-2 sender left it: no progress row, its request's start recorded as a row.
        let blob = withUnsafeBytes(of: id) { $0.map { String(format: "%02x", $0) }.joined() }
        sqlite(dir + "/spool.db", "DROP TABLE progress; INSERT INTO starts(rows) VALUES (x'\(blob)'); PRAGMA user_version=2")
        let store = try SQLiteSpool(directory: dir)
        #expect(sqliteInteger(dir + "/spool.db", "PRAGMA user_version") == 3)
        try store.adoptProgress()
        #expect(try store.load(fingerprint: "fp_a", after: 0, limit: 10).rows.map(\.attempts) == [1])
        #expect(sqliteInteger(dir + "/spool.db", "SELECT count(*) FROM starts") == 0)
    }

    @Test func anotherProgramsDatabaseIsNotASpool() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        sqlite(dir + "/spool.db", "CREATE TABLE mine(x)")
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(directory: dir) }
        #expect(error?.message == "\(dir)/spool.db: is not a Himetrica spool (another program's database)")
    }

    @Test func aPathThatIsNotADirectoryOrCannotBeCreated() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        _ = creat(dir + "/file", 0o600)
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(directory: dir + "/file") }
        #expect(error?.message == "\(dir)/file: is not a directory")
        let missing = #expect(throws: SpoolError.self) { try SQLiteSpool(directory: "/proc/no/such/spool") }
        #expect(missing?.message.hasPrefix("/proc/no/such/spool: cannot create the directory (") == true)
    }

    // Root may write anywhere: a read-only directory only stops other users. As root (CI),
    // bindings/python/tests/test_spool.py checks it on a read-only mount and as user 65534.
    @Test(.enabled(if: getuid() != 0, "root may write to a 0500 directory")) func anUnwritableDirectoryIsRefused() throws {
        let dir = temporaryDirectory()
        defer { chmod(dir, 0o700); removeTree(dir) }
        chmod(dir, 0o500)
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(directory: dir) }
        #expect(error?.message == "\(dir): the directory is not writable (Permission denied)")
    }

    @Test func aCorruptDatabaseIsMovedAsideAndAFreshOneStarted() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let fd = open(dir + "/spool.db", O_WRONLY | O_CREAT, 0o600)
        let garbage = Array(repeating: UInt8(0x5A), count: 8192)
        _ = write(fd, garbage, garbage.count)
        close(fd)
        var aside: String?
        let store = try SQLiteSpool(directory: dir) { aside = $0 }
        let moved = try #require(aside)
        #expect(moved.hasPrefix(dir + "/spool.db.corrupt-"))
        #expect(access(moved, F_OK) == 0)
        _ = try store.commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(1)]))
        #expect(try store.load(fingerprint: "fp_a", after: 0, limit: 10).rows.count == 1)
    }
}
