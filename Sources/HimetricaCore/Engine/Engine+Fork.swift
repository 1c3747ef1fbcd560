/// `fork()`: the `pthread_atfork` steps of one engine (``ProcessHooks`` runs them for every
/// engine; ``ForkGate`` brings the flush thread to a safe point first).
extension Engine {
    /// Before `fork()`, first step: tells the flush thread to park at its next safe point and
    /// wakes it out of its poll so it gets there now.
    func announceFork() {
        forkGate.forkBegins()
        transport.wakeup()
    }

    /// Ahead of `fork()` (``ProcessHooks/parkBeforeFork()``): tells the flush thread to park at
    /// its next safe point until `deadline` at most, and wakes it out of its poll.
    func announceForkAhead(parkingAtMostUntil deadline: UInt64) {
        forkGate.forkAnnounced(parkingAtMostUntil: deadline)
        transport.wakeup()
    }

    /// Before `fork()`, once the flush thread is at a safe point (or the wait for it ended):
    /// takes the engine's lock and the intake's and holds them across the fork.
    func lockForFork() {
        locked.takeForFork { _ in }
        intake.lockForFork()
    }

    /// In the parent after `fork()`.
    func unlockAfterFork() {
        intake.unlockAfterFork()
        locked.releaseAfterFork()
        forkGate.forkEnded()
    }

    /// Called in the child after `fork()` (the locks are held, taken by the prepare handler):
    /// a fresh queue, transport and thread. The parent's queue stays the parent's to send.
    func resetAfterFork() {
        locked.reinitializeAfterFork()
        forkGate.resetInChild()
        transport.abandonAfterFork()
        transport = makeTransport()
        let phase = locked.withLock { state in
            state.scheduler = Scheduler(configuration: configuration, sharedLimit: state.sharedLimiter != nil)
            // The parent's limiter (its thread, lock and connection) is the parent's: left alone
            // on purpose, never freed here, as its lock may be held by a thread that is not here.
            if let parent = state.sharedLimiter {
                _ = Unmanaged.passRetained(parent)
                state.sharedLimiter = parent.forChild()
                state.sharedLimiter?.attach(self)
            }
            spool?.resetAfterFork()
            state.thread = nil
            state.idleWaiters = []
            state.lookupWaiters = [:]
            state.wakeRequested = false
            if state.phase == .stopping { state.phase = .stopped }
            return state.phase
        }
        spoolFull.store(false, ordering: .relaxed)
        threadStarted.store(false, ordering: .relaxed)
        refused.store(0, ordering: .relaxed)
        intake.resetAfterFork(closed: phase != .running)
    }
}
