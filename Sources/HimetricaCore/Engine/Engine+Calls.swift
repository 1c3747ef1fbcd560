import HimetricaRules

/// The calls a surface makes: queueing a request, a user-id lookup, a flush (in their callback
/// forms; ``Engine`` waits for them in `Engine+Waits`), and the counters.
extension Engine {
    /// Queues a `POST /track` or `POST /identify` body (built by ``RequestBody``) for
    /// `identity`. Returns at once.
    ///
    /// - Parameter linked: an identity whose later requests must wait for this one (see
    ///   ``RequestBody/linkedIdentity(identity:traits:)``).
    package func enqueue(_ endpoint: Endpoint, identity: Identity, body: [UInt8], linked: Identity? = nil) throws(HimetricaError) {
        // The thread starts before the call is queued, so a failed start refuses the call
        // whole (nothing waits in a queue no thread will ever read).
        if !threadStarted.load(ordering: .acquiring) {
            let failure = locked.withLock { state in
                state.thread == nil && state.phase == .running ? startThread(in: &state) : nil
            }
            if let failure { throw reported(failure) }
        }
        let pushed: Intake.Pushed =
            spoolFull.load(ordering: .relaxed)
            ? .full : intake.push(endpoint, identity: identity, body: body, linked: linked, now: clock.monotonicNanoseconds())
        switch pushed {
        case .accepted(let first):
            if first {
                // The flush thread takes a shard's calls all at once: only the first after
                // that needs to tell it (later ones find it knowing).
                transport.wakeup()
            }
        case .full:
            refused.wrappingAdd(1, ordering: .relaxed)
            if let heldBack = queueFullLine.admit(now: clock.monotonicNanoseconds()) {
                let note = RepeatedLogLine.note(heldBack, "calls refused")
                if spoolFull.load(ordering: .relaxed) {
                    logger.warning("spool full (spool_max_bytes \(configuration.spoolMaxBytes)); calls are refused until it drains\(note)")
                } else {
                    logger.warning("queue full (\(configuration.queueCapacity) requests); calls are refused until it drains\(note)")
                }
            }
            throw .queueFull
        case .closed:
            throw .shutDown
        }
    }

    /// Resolves a browser visitor id to Himetrica's user id, from the cache or with
    /// `GET /user-id` (concurrent lookups of one visitor share one request). `done` is called
    /// once, on some thread, by `timeout` seconds at the latest.
    package func lookupUserId(visitorId: String, timeout: Double, done: @escaping @Sendable (Result<String, HimetricaError>) -> Void) {
        do throws(ValidationError) {
            try Identity.validate(visitorId, field: "visitorId")
        } catch {
            return done(.failure(.invalid(error)))
        }
        // What to do once the lock is released: answer now, or wake the thread for the request.
        let then = locked.withLock { state -> () -> Void in
            let now = clock.monotonicNanoseconds()
            guard state.phase == .running else { return { done(.failure(.shutDown)) } }
            switch state.cache.lookup(visitorId, now: now) {
            case .userId(let userId): return { done(.success(userId)) }
            case .notFound: return { done(.failure(.notFound)) }
            case nil: break
            }
            if state.thread == nil, let failure = startThread(in: &state) {
                return { [self] in done(.failure(reported(failure))) }
            }
            var waiters = state.lookupWaiters[visitorId] ?? []
            if state.lookupWaiters[visitorId] == nil, !state.scheduler.enqueueLookup(visitorId: visitorId, now: now) {
                return { done(.failure(.queueFull)) }
            }
            waiters.append((now &+ timeout.nanoseconds, done))
            state.lookupWaiters[visitorId] = waiters
            return wakeThread(requestWake(in: &state, force: true))
        }
        then()
    }

    /// Calls `done` once everything queued so far has an outcome, or when `timeout` seconds
    /// have passed, with what is still pending then.
    package func whenIdle(timeout: Double, done: @escaping @Sendable (FlushResult) -> Void) {
        // What to do once the lock is released: answer now, or wake the thread to answer.
        let then = locked.withLock { state -> () -> Void in
            if spooling == nil { takeIntake(in: &state) }
            if (isIdle(in: state) && state.reportsRunning == 0) || state.phase == .stopped {
                let pending = pendingEvents(in: state)
                return { done(FlushResult(pending: pending)) }
            }
            if state.thread == nil, state.phase == .running, let failure = startThread(in: &state) {
                // No thread will end this wait: report what is pending now.
                let pending = state.scheduler.pendingEvents
                return { [self] in
                    _ = reported(failure)
                    done(FlushResult(pending: pending))
                }
            }
            state.idleWaiters.append((clock.monotonicNanoseconds() &+ timeout.nanoseconds, done))
            spooling?.schedule.commitNow()
            return wakeThread(requestWake(in: &state, force: true))
        }
        then()
    }

    /// What wakes the flush thread once the lock is released, when `wake` says to.
    private func wakeThread(_ wake: Bool) -> () -> Void {
        { [self] in if wake { transport.wakeup() } }
    }

    /// The counters now.
    package var stats: Stats {
        let (counted, sharedLimiter) = locked.withLock { state in (spoolStats(state.scheduler.stats), state.sharedLimiter) }
        var stats = counted
        if let sharedLimiter {
            stats.sharedFallbacks = sharedLimiter.fallbacks.load(ordering: .relaxed)
            stats.redisErrors = sharedLimiter.errors.load(ordering: .relaxed)
        }
        let waiting = UInt64(intake.count), refused = refused.load(ordering: .relaxed)
        stats.queued += waiting + refused
        stats.queueDepth += waiting
        stats.dropped += refused
        return stats
    }
}
