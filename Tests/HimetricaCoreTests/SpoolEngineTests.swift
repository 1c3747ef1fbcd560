import CSQLite
import HimetricaRules
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func spoolEngine(_ dir: String, _ transport: FakeTransport, _ modify: (inout Configuration) -> Void = { _ in }) throws -> Engine {
    let configuration = unlimitedConfiguration {
        $0.endpoint = "http://127.0.0.1:9/api/v1"
        $0.spool = dir
        modify(&$0)
    }
    return try Engine(configuration: configuration, clock: Clock(), keyFingerprint: "fp_a") { transport }
}

/// The `n` of each body a transport was sent, per visitor lane, in send order.
private func sentOrder(_ transport: FakeTransport) -> [String: [Int]] {
    var lanes: [String: [Int]] = [:]
    for request in transport.started {
        let text = String(decoding: request.body ?? [], as: UTF8.self)
        // Bodies are {"visitorId":"vK","eventName":"e","n":N}, as `track` writes them.
        let parts = text.split(separator: "\"")
        guard parts.count > 3, let n = Int(text.split(separator: ":").last!.dropLast()) else { continue }
        lanes[String(parts[3]), default: []].append(n)
    }
    return lanes
}

/// The rows the spool in `dir` records in flight, read with a connection of its own.
private func recordedInFlight(_ dir: String) -> Set<Int64> {
    var db: OpaquePointer?
    var statement: OpaquePointer?
    sqlite3_open(dir + "/spool.db", &db)
    defer { sqlite3_close(db) }
    guard sqlite3_prepare_v2(db, "SELECT in_flight FROM progress WHERE id = 1", -1, &statement, nil) == SQLITE_OK else { return [] }
    defer { sqlite3_finalize(statement) }
    guard sqlite3_step(statement) == SQLITE_ROW else { return [] }
    let bytes = UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, 0), count: Int(sqlite3_column_bytes(statement, 0)))
    return Set(stride(from: 0, to: bytes.count - 7, by: 8).map { bytes.loadUnaligned(fromByteOffset: $0, as: Int64.self) })
}

/// A spool that counts its loads (reads of rows), over a real one.
private final class LoadCountingStore: SpoolStore {
    let store: SQLiteSpool
    private(set) var loads = 0
    init(_ store: SQLiteSpool) { self.store = store }
    func commit(_ batch: SpoolBatch) throws(SpoolError) -> SpoolCommitted { try store.commit(batch) }
    func adoptProgress() throws(SpoolError) { try store.adoptProgress() }
    func compact() throws(SpoolError) { try store.compact() }
    func load(fingerprint: String, after: Int64, limit: Int) throws(SpoolError) -> SpoolLoad {
        loads += 1
        return try store.load(fingerprint: fingerprint, after: after, limit: limit)
    }
    func count(origin: String?) throws(SpoolError) -> Int { try store.count(origin: origin) }
    func sends(fingerprint: String, endpoint: Endpoint, since: Int64) throws(SpoolError) -> [Int64] {
        try store.sends(fingerprint: fingerprint, endpoint: endpoint, since: since)
    }
    func bytes() -> Int64 { store.bytes() }
    func takeSenderRole(origin: String, pid: Int32) -> Bool { store.takeSenderRole(origin: origin, pid: pid) }
    func releaseSenderRole() { store.releaseSenderRole() }
    func abandonAfterFork() { store.abandonAfterFork() }
}

/// The engine's side of the spool in `dir`, over `store`, without an engine.
private func spoolLink(_ dir: String, _ store: any SpoolStore) -> SpoolLink {
    SpoolLink(path: dir, fingerprint: "fp_a", configuration: unlimitedConfiguration(), store: store) { store }
}

/// A turn that commits `bodies` as calls and may load up to `refill` rows.
private func turn(committing bodies: [UInt8], refill: Int = 100, trySender: Bool = false) -> SpoolTurn {
    var turn = SpoolTurn(batch: SpoolBatch(fingerprint: "fp_a"))
    turn.entries = bodies.map { Intake.Entry(stamp: 0, endpoint: .track, identity: .visitorId("v"), body: [$0], linked: nil, queuedAt: 0) }
    turn.refill = refill
    turn.trySender = trySender
    return turn
}

private func track(_ engine: Engine, _ n: Int) throws {
    try engine.enqueue(
        .track, identity: .visitorId("v\(n % 4)"), body: Array("{\"visitorId\":\"v\(n % 4)\",\"eventName\":\"e\",\"n\":\(n)}".utf8))
}

@Suite struct SpoolScheduleTests {
    @Test func aBurstSharesOneCommitAndWaitsAtMostOneInterval() {
        var schedule = SpoolSchedule(commitInterval: 10 * ms, window: 100)
        #expect(schedule.commitAt(now: 5 * sec) == 5 * sec)
        schedule.committed(now: 5 * sec)
        #expect(schedule.commitAt(now: 5 * sec + 3 * ms) == 5 * sec + 10 * ms)
        #expect(schedule.commitAt(now: 6 * sec) == 6 * sec)
        schedule.committed(now: 6 * sec)
        schedule.commitNow()
        #expect(schedule.commitAt(now: 6 * sec + 1 * ms) == 6 * sec + 1 * ms)
    }

    @Test func aWriterTriesForTheSenderRoleFourTimesASecond() {
        var schedule = SpoolSchedule(commitInterval: 10 * ms, window: 100)
        #expect(schedule.senderTryAt(now: 1 * sec) == 1 * sec)
        schedule.triedSender(now: 1 * sec)
        #expect(schedule.senderTryAt(now: 1 * sec + 1 * ms) == 1 * sec + 250 * ms)
        #expect(schedule.senderRetry * 4 <= sec)
    }

    @Test func theWindowIsRefilledInLargeReads() {
        let schedule = SpoolSchedule(commitInterval: 10 * ms, window: 100)
        #expect(schedule.refill(loaded: 0) == 100)
        #expect(schedule.refill(loaded: 51) == 0)
        #expect(schedule.refill(loaded: 50) == 50)
    }
}

@Suite struct SpoolEngineTests {
    @Test func aWritersFlushWaitsUntilTheSenderDeliveredItsCalls() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let senderTransport = FakeTransport()
        let sender = try spoolEngine(dir, senderTransport)
        #expect(waitUntil(timeout: 2) { sender.stats.sender == 1 })
        let writerTransport = FakeTransport()
        let writer = try spoolEngine(dir, writerTransport)
        for n in 0..<200 { try track(writer, n) }
        let result = writer.flush(timeout: 10)
        #expect(result.completed)
        #expect(writerTransport.started.isEmpty)
        #expect(senderTransport.started.count == 200)
        #expect(writer.stats.spooled == 200 && writer.stats.sender == 0)
        #expect(sender.stats.delivered == 200)
        // Per-identity order holds through the spool.
        for (_, order) in sentOrder(senderTransport) { #expect(order == order.sorted()) }
        writer.shutdown(timeout: 1)
        sender.shutdown(timeout: 1)
    }

    @Test func whatIsLeftAtShutdownIsSentByTheNextProcessAndInFlightOnesCountAsResent() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let stuck = FakeTransport()
        stuck.hold()
        do {
            let first = try spoolEngine(dir, stuck) { $0.maxInFlight = 3 }
            for n in 0..<40 { try track(first, n) }
            #expect(waitUntil(timeout: 5) { stuck.started.count == 3 })
            let left = first.shutdown(timeout: 0.2)
            #expect(left.pending == 40)
            #expect(first.stats.dropped == 0)
        }
        let transport = FakeTransport()
        let next = try spoolEngine(dir, transport)
        #expect(waitUntil(timeout: 5) { next.stats.delivered == 40 })
        #expect(next.stats.resent == 3)
        for (_, order) in sentOrder(transport) { #expect(order == order.sorted()) }
        next.shutdown(timeout: 1)
    }

    @Test(arguments: [false, true])
    func aRequestLeavesOnlyOnceItsRowIsRecordedInFlight(limited: Bool) throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        // What the spool records in flight as each request leaves (row n + 1 carries call n).
        let starts = Recorder<(row: Int64, recorded: Set<Int64>)>()
        let transport = FakeTransport { request in
            let n = Int(String(decoding: request.body ?? [], as: UTF8.self).split(separator: ":").last!.dropLast())!
            starts.append((Int64(n + 1), recordedInFlight(dir)))
            return TransportResponse(status: 202)
        }
        let engine = try spoolEngine(dir, transport) {
            $0.maxInFlight = 2
            if limited { $0.rateLimits = [.track: RateLimit(count: 10_000, window: .seconds(1))] }
        }
        for n in 0..<40 { try track(engine, n) }
        #expect(engine.flush(timeout: 10).completed)
        #expect(starts.count == 40)
        for start in starts.all { #expect(start.recorded.contains(start.row), "row \(start.row) left unrecorded") }
        // Without a limit a record also names the next 2 × max_in_flight rows to start, so most
        // requests need no commit of their own; with one, each waits for its send time's.
        let most = starts.all.map(\.recorded.count).max() ?? 0
        #expect(limited ? most <= 2 : most > 2 && most <= 6)
        // The last outcomes were recorded at once (nothing was left in flight), before the flush
        // returned.
        #expect(recordedInFlight(dir).isEmpty)
        #expect(try SQLiteSpool(directory: dir).count(origin: nil) == 0)
        engine.shutdown(timeout: 1)
    }

    @Test func aFlushDoesNotWaitForTheCommitInterval() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let transport = FakeTransport()
        let engine = try spoolEngine(dir, transport) { $0.spoolCommitInterval = .seconds(5) }
        try track(engine, 0)
        #expect(engine.flush(timeout: 5).completed)
        // The next call would wait 5 s for its commit; a flush commits it at once.
        try track(engine, 1)
        #expect(engine.flush(timeout: 2).completed)
        #expect(transport.started.count == 2)
        engine.shutdown(timeout: 1)
    }

    @Test func aSenderTakesTheRowsItJustCommittedWithoutReadingThemBackUnlessOthersCameFirst() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let store = LoadCountingStore(try SQLiteSpool(directory: dir))
        let link = spoolLink(dir, store)
        func perform(_ turn: inout SpoolTurn) {
            link.perform(&turn, nowMonotonic: 1, nowUnix: 1_000)
            link.apply(turn)
        }
        var first = turn(committing: [1], trySender: true)
        perform(&first)
        #expect(first.becameSender && first.loaded.map(\.body) == [[1]] && store.loads == 1)
        // Right after the cursor: taken as committed, ids and all.
        var own = turn(committing: [2, 3])
        perform(&own)
        #expect(own.loaded.map(\.id) == [2, 3] && own.loaded.map(\.body) == [[2], [3]] && store.loads == 1)
        // Another process committed a row first: everything is read back in id order.
        _ = try SQLiteSpool(directory: dir).commit(SpoolBatch(fingerprint: "fp_a", inserts: [spoolRow(9, origin: "other")]))
        var after = turn(committing: [4])
        perform(&after)
        #expect(after.loaded.map(\.id) == [4, 5] && after.loaded.map(\.origin) == ["other", link.origin] && store.loads == 2)
        // More rows than the window has room for: the rest are read back later, in order.
        var burst = turn(committing: [6, 7, 8], refill: 2)
        perform(&burst)
        #expect(burst.loaded.map(\.id) == [6, 7] && burst.loadsMore && store.loads == 2)
        var rest = turn(committing: [], refill: 5)
        perform(&rest)
        #expect(rest.loaded.map(\.id) == [8] && store.loads == 3)
    }

    @Test func aCommitOfThisProcesssOutcomesLowersItsWaitingRowsWithoutACount() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let link = spoolLink(dir, try SQLiteSpool(directory: dir))
        var inserts = SpoolTurn(batch: SpoolBatch(fingerprint: "fp_a"))
        inserts.entries = (0..<3).map { n in
            Intake.Entry(stamp: 0, endpoint: .track, identity: .visitorId("v"), body: [UInt8(n)], linked: nil, queuedAt: 0)
        }
        inserts.committed = true
        link.apply(inserts)
        #expect(link.ownWaiting == 3)
        // Two of its own rows and one of another process have their outcomes committed: a flush
        // waiting for its one row left ends without waiting for the next count.
        var outcomes = SpoolTurn(batch: SpoolBatch(fingerprint: "fp_a", removed: [(1, link.origin), (2, link.origin), (3, "other")]))
        outcomes.committed = true
        link.apply(outcomes)
        #expect(link.ownWaiting == 1)
        // Not committed (the spool failed): nothing is known to be gone.
        var failed = SpoolTurn(batch: SpoolBatch(fingerprint: "fp_a", removed: [(4, link.origin)]))
        failed.error = SpoolError(message: "disk I/O error")
        link.apply(failed)
        #expect(link.ownWaiting == 1)
        // A count is exact: it wins over the estimate.
        var counted = SpoolTurn(batch: SpoolBatch(fingerprint: "fp_a", removed: [(5, link.origin)]))
        counted.committed = true
        counted.ownWaiting = 0
        link.apply(counted)
        #expect(link.ownWaiting == 0)
    }

    @Test func rowsOfAnotherKeyWaitForAProcessHoldingIt() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let other = FakeTransport()
        other.hold()
        do {
            let configuration = unlimitedConfiguration {
                $0.endpoint = "http://127.0.0.1:9/api/v1"
                $0.spool = dir
            }
            let writer = try Engine(configuration: configuration, clock: Clock(), keyFingerprint: "fp_b") { other }
            for n in 0..<5 { try track(writer, n) }
            _ = writer.flush(timeout: 0.3)
            writer.shutdown(timeout: 0)
        }
        let transport = FakeTransport()
        let engine = try spoolEngine(dir, transport)
        for n in 0..<5 { try track(engine, n) }
        #expect(engine.flush(timeout: 5).completed)
        #expect(transport.started.count == 5)
        engine.shutdown(timeout: 1)
        let store = try SQLiteSpool(directory: dir)
        #expect(try store.summaries().map(\.fingerprint) == ["fp_b"])
    }

    @Test func aSenderPassesOverAnotherKeysRowsWithoutWaitingForItsPolls() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let others = (0..<3000).map { spoolRow($0, fingerprint: "fp_b") }
        _ = try SQLiteSpool(directory: dir).commit(SpoolBatch(fingerprint: "fp_b", inserts: others))
        let transport = FakeTransport()
        // A window of 16 rows: each load looks at 16, so it takes ~190 loads to pass fp_b's
        // rows, ~10 s if each waited for the next 50 ms poll.
        let engine = try spoolEngine(dir, transport) { $0.queueCapacity = 16 }
        for n in 0..<5 { try track(engine, n) }
        #expect(engine.flush(timeout: 5).completed)
        #expect(transport.started.count == 5)
        engine.shutdown(timeout: 1)
    }

    @Test func pastSpoolMaxBytesCallsAreRefusedAsQueueFull() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let stuck = FakeTransport()
        stuck.hold()
        let engine = try spoolEngine(dir, stuck) { $0.spoolMaxBytes = 65536 }
        let big = Array(repeating: UInt8(ascii: "x"), count: 4000)
        var refused = false
        for n in 0..<400 where !refused {
            do {
                try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: big)
            } catch {
                #expect(error == .queueFull)
                refused = true
            }
            usleep(2000)
        }
        #expect(refused)
        #expect(engine.stats.dropped >= 1)
        engine.shutdown(timeout: 0)
    }

    @Test func aBadSpoolIsAClearErrorAtCreation() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        _ = creat(dir + "/file", 0o600)
        let error = #expect(throws: ValidationError.self) { try spoolEngine(dir + "/file", FakeTransport()) }
        #expect(error?.message == "spool: \(dir)/file: is not a directory")
    }
}

@Suite struct SpoolTimeTests {
    @Test func aCallStampedAfterTheTurnBeganIsCapturedNow() {
        #expect(SpoolLink.unixTime(ofMonotonic: 5 * sec + 1, now: 5 * sec, nowUnix: 1_000_000) == 1_000_000)
        #expect(SpoolLink.unixTime(ofMonotonic: 4 * sec, now: 5 * sec, nowUnix: 1_000_000) == 999_000)
    }

    @Test func rowTimesBecomeMonotonicTimesNeverPastNowNorBelowZero() {
        #expect(SpoolLink.monotonicTime(ofUnix: 999_000, now: 5 * sec, nowUnix: 1_000_000) == 4 * sec)
        #expect(SpoolLink.monotonicTime(ofUnix: 1_000_500, now: 5 * sec, nowUnix: 1_000_000) == 5 * sec)
        #expect(SpoolLink.monotonicTime(ofUnix: -9_000_000_000_000_000, now: 5 * sec, nowUnix: 1_000_000) == 0)
        #expect(SpoolLink.monotonicTime(ofUnix: .min, now: 5 * sec, nowUnix: .max) == 0)
        #expect(SpoolLink.monotonicTime(ofUnix: 0, now: 5 * sec, nowUnix: 1_000_000) == 0)
    }

    @Test func theLimiterCountsASendFromWhenItLeaves() {
        var limiter = SlidingWindowLimiter(limit: 1, window: 1 * sec)
        limiter.record(now: 10 * sec)
        limiter.restampLast(1, at: 10 * sec + 300 * ms)
        #expect(limiter.nextAllowed(now: 11 * sec + 100 * ms) == 11 * sec + 300 * ms + SlidingWindowLimiter.margin)
    }
}
