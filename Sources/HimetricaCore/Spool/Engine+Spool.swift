import HimetricaRules
import Logging

/// The engine's spool glue: the flush thread's turn on the spool, and what "idle" and
/// "pending" mean with one. (Policy is in ``SpoolSchedule``; storage in ``SQLiteSpool``.)
extension Engine {
    /// Opens `configuration.spool`, if set. A bad spool is an error naming the path and the
    /// cause, at client creation.
    static func openSpool(_ configuration: Configuration, fingerprint: String) throws(ValidationError) -> SpoolLink? {
        guard let path = configuration.spool else { return nil }
        let logger = configuration.logger
        let sync = configuration.spoolSync
        let open = { () throws(SpoolError) -> any SpoolStore in
            try SQLiteSpool(directory: path, sync: sync) { aside in
                logger.error("the spool's database was corrupt; moved it aside and started a fresh one", metadata: ["spool": "\(path)", "moved_to": "\(aside)"])
            }
        }
        do throws(SpoolError) {
            return SpoolLink(path: path, fingerprint: fingerprint, configuration: configuration, store: try open(), open: open)
        } catch {
            throw ValidationError(field: "spool", rule: error.message)
        }
    }

    /// The spool while it works (nil without one, or after it failed and the engine fell back
    /// to memory).
    var spooling: SpoolLink? {
        guard let spool, !spool.failed else { return nil }
        return spool
    }

    /// Whether everything this process accepted has its outcome. With a spool: its calls are
    /// committed and their rows gone, whichever process sent them. Call holding the lock.
    func isIdle(in state: State) -> Bool {
        guard let link = spooling else { return state.scheduler.isIdle }
        return link.committing == 0 && link.ownWaiting == 0 && intake.count == 0
    }

    /// Requests of this process not finished yet. Call holding the lock.
    func pendingEvents(in state: State) -> Int {
        guard let link = spooling else { return state.scheduler.pendingEvents }
        return link.committing + link.ownWaiting + intake.count
    }

    /// The scheduler's counters with the spool's. Call holding the lock.
    func spoolStats(_ base: Stats) -> Stats {
        guard let spool else { return base }
        var stats = base
        stats.queued += spool.spooled
        stats.spooled = spool.spooled
        stats.spoolBytes = spool.bytes
        stats.sender = spool.isSender ? 1 : 0
        stats.spoolErrors = spool.errors
        return stats
    }

    /// What this turn writes and reads. Call holding the lock, on the flush thread.
    func prepareSpoolTurn(_ link: SpoolLink, now: UInt64, started: [Job], in state: State) -> SpoolTurn {
        var turn = SpoolTurn(batch: SpoolBatch(fingerprint: link.fingerprint))
        if state.phase == .stopping || link.schedule.commitAt(now: now) <= now {
            turn.entries = intake.drain()
            if !turn.entries.isEmpty {
                link.committing += turn.entries.count
                link.schedule.committed(now: now)
            }
        }
        recordProgress(link, now: now, started: started, committing: !turn.entries.isEmpty, into: &turn.batch, in: state)
        if !link.isSender, link.schedule.senderTryAt(now: now) <= now {
            turn.trySender = true
            link.schedule.triedSender(now: now)
        }
        turn.refill = link.schedule.refill(loaded: link.loaded)
        let waited = !state.idleWaiters.isEmpty || state.phase == .stopping
        if (waited || turn.refill > 0), link.schedule.pollAt(now: now) <= now {
            turn.lookForRows = true
            turn.countOwn = waited
            link.schedule.polled(now: now)
        }
        return turn
    }

    /// Adds to `batch` what must be durable before `started` leave, and the outcomes due.
    /// Call holding the lock, on the flush thread.
    ///
    /// A request leaves only once its row is recorded in flight (a new sender counts it as
    /// resent). A request whose endpoint has a limit also waits for its send time's commit (a
    /// successor's limiter keeps to that window); for an endpoint without one, each record
    /// also names the next rows to start, so most of its requests leave without a commit of
    /// their own (after a crash, those named but not yet sent count as resent too). Outcomes
    /// ride along, and are committed on their own at most a commit interval after the first of
    /// them, at once when nothing is in flight, and in every turn of a stopping engine, which
    /// records exactly what is in flight (so `resent` after a clean stop counts only requests
    /// that left).
    private func recordProgress(
        _ link: SpoolLink, now: UInt64, started: [Job], committing: Bool, into batch: inout SpoolBatch, in state: State
    ) {
        let unix = clock.unixMilliseconds()
        var mustRecord = false
        for job in started {
            guard let row = job.spoolRow else { continue }
            link.inFlight.insert(row)
            if !link.recorded.contains(row) { mustRecord = true }
            if link.windows.contains(where: { $0.endpoint == job.endpoint }) {
                batch.sends.append((job.endpoint, unix))
                mustRecord = true
            }
        }
        let stopping = state.phase == .stopping
        if !link.removed.isEmpty { link.schedule.outcomesWaiting(now: now) }
        let outcomesDue = (committing && !link.removed.isEmpty) || outcomesDueAt(link, now: now, in: state).map { $0 <= now } == true
        guard mustRecord || outcomesDue || (stopping && link.recorded != link.inFlight) else { return }
        batch.removed = link.removed
        link.removed = []
        link.schedule.outcomesRecorded()
        link.recorded = stopping ? link.inFlight : link.inFlight.union(state.scheduler.upcomingSpoolRows(of: link.unlimited))
        batch.inFlight = Array(link.recorded)
    }

    /// When the outcomes waiting must be committed (nil: none wait): at once when nothing is in
    /// flight or the engine stops, else at most a commit interval after the first. Call holding
    /// the lock.
    private func outcomesDueAt(_ link: SpoolLink, now: UInt64, in state: State) -> UInt64? {
        guard !link.removed.isEmpty else { return nil }
        return link.inFlight.isEmpty || state.phase == .stopping ? now : link.schedule.outcomesDueAt(now: now)
    }

    /// Runs the turn's I/O without the lock, then applies it; `started` are the requests about
    /// to start once it is done. True when it loaded rows that may start at once, or may load
    /// more at once.
    func performSpoolTurn(_ turn: inout SpoolTurn, now: UInt64, started: [Job]) -> Bool {
        guard let link = spool else { return false }
        let unix = clock.unixMilliseconds()
        link.perform(&turn, nowMonotonic: now, nowUnix: unix)
        let done = locked.withLock { applySpoolTurn(turn, link, now: now, unix: unix, started: started, in: &$0) }
        done?()
        return !turn.loaded.isEmpty || turn.loadsMore
    }

    /// Applies a performed turn to the scheduler and the spool's counts. Call holding the
    /// lock; returns what answers the flushes it ends, to run once the lock is released.
    private func applySpoolTurn(
        _ turn: SpoolTurn, _ link: SpoolLink, now: UInt64, unix: Int64, started: [Job], in state: inout State
    ) -> (() -> Void)? {
        // The requests started this turn leave after its commit: the limiter counts them from
        // then, or a slow commit would let the window's next sends reach the server early.
        state.scheduler.restamp(started, at: clock.monotonicNanoseconds())
        link.apply(turn)
        if turn.committed { intake.finished(turn.entries.count) }
        if turn.becameSender {
            // A predecessor's send times are stamped before its commit, its requests left after
            // it: they count as 100 ms later, so a slow commit cannot make them look older.
            for (endpoint, times) in turn.seeds {
                state.scheduler.seedLimiter(endpoint, sentAt: times.map { SpoolLink.monotonicTime(ofUnix: $0 + 100, now: now, nowUnix: unix) })
            }
            logger.info("this process sends for the spool", metadata: ["spool": "\(link.path)"])
        }
        for row in turn.loaded {
            state.scheduler.enqueue(spooled: row, now: SpoolLink.monotonicTime(ofUnix: row.capturedAt, now: now, nowUnix: unix))
        }
        spoolFull.store(link.bytes >= UInt64(link.maxBytes), ordering: .relaxed)
        if let error = turn.error {
            // Nothing is lost: what was not committed is sent from memory from now on.
            for entry in turn.entries where !turn.committed {
                state.scheduler.enqueue(
                    endpoint: entry.endpoint, identity: entry.identity, body: entry.body, linked: entry.linked,
                    now: entry.queuedAt)
            }
            spoolFull.store(false, ordering: .relaxed)
            logger.critical(
                "the spool failed; requests are kept in memory from now on and are lost if the process ends",
                metadata: ["spool": "\(link.path)", "error": "\(error.message)"])
        }
        guard isIdle(in: state), state.reportsRunning == 0, !state.idleWaiters.isEmpty else { return nil }
        return takeIdleWaiters(in: &state)
    }

    /// When the spool next needs the flush thread. Call holding the lock.
    func spoolWakeAt(_ link: SpoolLink, now: UInt64, in state: State) -> UInt64? {
        var at: [UInt64] = []
        if let due = outcomesDueAt(link, now: now, in: state) { at.append(due) }
        if intake.count > 0 { at.append(link.schedule.commitAt(now: now)) }
        if !link.isSender { at.append(link.schedule.senderTryAt(now: now)) }
        if !state.idleWaiters.isEmpty || state.phase == .stopping || link.isSender { at.append(link.schedule.pollAt(now: now)) }
        return at.min()
    }

    /// Whether a stopping engine with a spool is done: everything committed, and its own rows
    /// sent (or the deadline passed: they wait in the spool). Call holding the lock.
    func spoolDone(now: UInt64, in state: State) -> Bool {
        guard let link = spooling else { return true }
        guard link.committing == 0, link.removed.isEmpty, intake.count == 0 else { return false }
        return (link.ownWaiting == 0 && state.scheduler.stats.inFlight == 0) || now >= state.stopDeadline
    }

    /// At the end of the flush thread: gives the sender role up and says what waits. Call
    /// without the lock.
    func closeSpool() {
        guard let link = locked.withLock({ _ in spooling }) else { return }
        let waiting = link.close()
        locked.withLock { _ in link.closed() }
        if let waiting, waiting > 0 {
            logger.warning(
                "requests wait in the spool; the next process that opens it sends them",
                metadata: ["spool": "\(link.path)", "waiting": "\(waiting)"])
        }
    }
}
