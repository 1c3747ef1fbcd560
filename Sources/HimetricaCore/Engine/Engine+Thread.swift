import HimetricaRules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The flush thread's life: started at the first call, one turn after another (take calls,
/// start requests, poll, apply answers), and its end once the engine stops.
extension Engine {
    /// One turn's plan, made holding the lock and carried out without it.
    private struct Turn {
        let now: UInt64
        /// The requests to start this turn.
        let started: [Job]
        /// When the thread must look again (nil: at most a second from now).
        var wakeAt: UInt64?
        /// Tells the waiters whose deadline passed.
        let expired: (() -> Void)?
        /// The spool's work this turn, with a spool.
        var spool: SpoolTurn?
        let transport: any Transport
    }

    /// Says whether the caller should wake the flush thread (at most once per loop turn, so a
    /// burst of calls costs one wakeup); never while there is no thread.
    func requestWake(in state: inout State, force: Bool = false) -> Bool {
        guard state.thread != nil, force || !state.wakeRequested else { return false }
        state.wakeRequested = true
        return true
    }

    /// Starts the flush thread; returns the error when the system refuses. Call with no thread
    /// running, and pass a failure to ``reported(_:)`` once the lock is released.
    func startThread(in state: inout State) -> HimetricaError? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        var id = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        forkGate.threadStarting()
        let rc = pthread_create(&id, &attributes, { context in
            Engine.threadMain(context!)
            return nil
        }, context)
        guard rc == 0 else {
            forkGate.threadEnded()
            Unmanaged<Engine>.fromOpaque(context).release()
            return .system("could not start the flush thread (pthread_create: \(String(cString: strerror(rc))))")
        }
        state.thread = id
        threadStarted.store(true, ordering: .releasing)
        return nil
    }

    /// Logs a failed thread start and returns it. Call without the lock: a log callback may
    /// call back into the engine (to read its counters, say).
    func reported(_ failure: HimetricaError) -> HimetricaError {
        logger.error("\(failure.description)")
        return failure
    }

    /// Moves the calls waiting in the intake into the scheduler, in call order.
    func takeIntake(in state: inout State) {
        for entry in intake.drain() {
            state.scheduler.enqueue(
                endpoint: entry.endpoint, identity: entry.identity, body: entry.body, linked: entry.linked,
                now: entry.queuedAt)
        }
    }

    /// The flush thread's body. Its reference to the engine keeps the engine alive for as long
    /// as the thread runs, also after a shutdown that gave up on it.
    private static func threadMain(_ context: UnsafeMutableRawPointer) {
        let gate: ForkGate
        do {
            let engine = Unmanaged<Engine>.fromOpaque(context).takeRetainedValue()
            gate = engine.forkGate
            gate.bindToCurrentThread()
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            engine.run()
        }
        gate.threadEnded()
    }

    private func run() {
        while var turn = locked.withLock({ planTurn(in: &$0) }) {
            turn.expired?()
            if turn.spool != nil, performSpoolTurn(&turn.spool!, now: turn.now, started: turn.started) { turn.wakeAt = turn.now }
            for job in turn.started { turn.transport.start(request(for: job)) }
            let timeout = turn.wakeAt.map { $0 > turn.now ? min(($0 - turn.now) / 1_000_000 + 1, 1000) : 0 } ?? 1000
            let answers = turn.transport.poll(timeoutMilliseconds: Int32(timeout))
            passForkGate()
            apply(answers)
        }
        finish()
    }

    /// A turn's first half: takes calls, picks the requests to start and when to look again.
    /// Nil once a stopping engine is done.
    private func planTurn(in state: inout State) -> Turn? {
        let now = clock.monotonicNanoseconds()
        // New calls wait in the intake while none of them could leave anyway (in-flight
        // cap or rate limit reached): callers then append without waking this thread.
        // (With a spool, calls go from the intake to the spool on its own schedule.)
        let intakeOpensAt = spooling != nil ? nil : state.phase == .stopping ? now : state.scheduler.newRequestsStart(now: now)
        if let at = intakeOpensAt, at <= now { takeIntake(in: &state) }
        if state.phase == .stopping,
            spooling == nil ? state.scheduler.isIdle || now >= state.stopDeadline : spoolDone(now: now, in: state)
        {
            return nil
        }
        state.wakeRequested = false
        let started = state.phase == .stopping && now >= state.stopDeadline ? [] : state.scheduler.takeStartable(now: now)
        if let sharedLimiter = state.sharedLimiter, !sharedLimiter.publish(demand: state.scheduler.sharedDemand(now: now)) {
            state.scheduler.sharedFallBack(senders: 1, now: now)
        }
        var wakeAt = state.scheduler.nextWakeup(now: now)
        if let at = intakeOpensAt, at > now, intake.count > 0 { wakeAt = min(wakeAt ?? at, at) }
        let expired = state.idleWaiters.isEmpty && state.lookupWaiters.isEmpty ? nil : takeExpiredWaiters(in: &state, now: now)
        for waiter in state.idleWaiters { wakeAt = min(wakeAt ?? waiter.deadline, waiter.deadline) }
        for waiters in state.lookupWaiters.values {
            for waiter in waiters { wakeAt = min(wakeAt ?? waiter.deadline, waiter.deadline) }
        }
        if state.phase == .stopping { wakeAt = min(wakeAt ?? state.stopDeadline, state.stopDeadline) }
        let spoolTurn = spooling.map { prepareSpoolTurn($0, now: now, started: started, in: state) }
        if let link = spooling, let at = spoolWakeAt(link, now: now, in: state) { wakeAt = min(wakeAt ?? at, at) }
        return Turn(now: now, started: started, wakeAt: wakeAt, expired: expired, spool: spoolTurn, transport: transport)
    }

    /// A turn's second half: applies the poll's answers, then reports their outcomes (and
    /// answers the flushes they end) without the lock.
    private func apply(_ answers: [(id: UInt64, response: TransportResponse)]) {
        let followUps = locked.withLock { state -> [() -> Void] in
            if answers.isEmpty, !isIdle(in: state) || state.idleWaiters.isEmpty { return [] }
            var followUps: [() -> Void] = []
            followUps.reserveCapacity(answers.count + 1)
            for (id, response) in answers {
                if let followUp = handle(id: id, response: response, in: &state) { followUps.append(followUp) }
            }
            if isIdle(in: state), !state.idleWaiters.isEmpty { followUps.append(takeIdleWaiters(in: &state)) }
            if !followUps.isEmpty { state.reportsRunning += 1 }
            return followUps
        }
        guard !followUps.isEmpty else { return }
        followUps.forEach { $0() }
        let done = locked.withLock { state -> (() -> Void)? in
            state.reportsRunning -= 1
            // A flush that started while the reports ran waited for them: it is done now.
            guard isIdle(in: state), !state.idleWaiters.isEmpty else { return nil }
            return takeIdleWaiters(in: &state)
        }
        done?()
    }

    /// The thread's end: cancels what is in flight, closes the spool, drops what is left and
    /// answers every waiter, then marks the engine stopped for a waiting shutdown.
    private func finish() {
        locked.withLock { _ in transport.cancelAll() }
        closeSpool()
        let tell = locked.withLock { state in
            state.sharedLimiter?.stop()
            return dropEverything(in: &state).tell
        }
        tell()
        let idleDone = locked.withLock { state in
            let idleDone = takeIdleWaiters(in: &state)
            state.phase = .stopped
            locked.broadcast()
            return idleDone
        }
        idleDone()
    }

    /// The flush thread's fork safe point, right after each poll: it holds no lock and runs no
    /// libcurl, TLS or Swift runtime code here, so it parks here while a fork is in progress.
    private func passForkGate() {
        let forksWithoutSafePoint = forkGate.pass()
        guard forksWithoutSafePoint > 0 else { return }
        logger.warning(
            "fork() went ahead before the flush thread reached a safe point",
            metadata: ["forks": "\(forksWithoutSafePoint)", "waitedSeconds": "\(Double(ForkGate.safePointWait) / 1e9)"])
    }
}
