import HimetricaRules

/// The waits for an answer: blocking and async forms of a flush and a user-id lookup, each
/// ending by its own deadline (plus ``Engine/waitGrace``) even when the flush thread cannot
/// answer; and the waiter lists the flush thread answers them from.
extension Engine {
    /// Blocks until everything queued so far has an outcome or `timeout` seconds pass. Ends
    /// by its own deadline (plus ``waitGrace``) even when the flush thread cannot answer.
    package func flush(timeout: Double) -> FlushResult {
        let (answer, giveUpAt) = startWait(timeout) { done in whenIdle(timeout: timeout, done: done) }
        return answer.wait(until: giveUpAt) ?? FlushResult(pending: pendingNow(until: giveUpAt &+ Self.waitGrace))
    }

    /// The async form of ``flush(timeout:)``: suspends instead of blocking.
    package func flush(timeout: Double) async -> FlushResult {
        let (answer, giveUpAt) = startWait(timeout) { done in whenIdle(timeout: timeout, done: done) }
        return await answer.value(until: giveUpAt) ?? FlushResult(pending: pendingNow(until: giveUpAt &+ Self.waitGrace))
    }

    /// Blocks until ``lookupUserId(visitorId:timeout:done:)`` answers, by its own deadline
    /// (``HimetricaError/timeout`` then) even when the flush thread cannot answer.
    package func userId(visitorId: String, timeout: Double) -> Result<String, HimetricaError> {
        let (answer, giveUpAt) = startWait(timeout) { done in lookupUserId(visitorId: visitorId, timeout: timeout, done: done) }
        return answer.wait(until: giveUpAt) ?? .failure(.timeout)
    }

    /// The async form of ``userId(visitorId:timeout:)``.
    package func userId(visitorId: String, timeout: Double) async -> Result<String, HimetricaError> {
        let (answer, giveUpAt) = startWait(timeout) { done in lookupUserId(visitorId: visitorId, timeout: timeout, done: done) }
        return await answer.value(until: giveUpAt) ?? .failure(.timeout)
    }

    /// Starts a call that answers through a callback; returns where its answer arrives and when
    /// the caller stops waiting for it (``Clock`` time, not the injected clock: the caller's
    /// own deadline).
    private func startWait<Value>(
        _ timeout: Double, _ start: (@escaping @Sendable (Value) -> Void) -> Void
    ) -> (OneShot<Value>, UInt64) {
        let answer = OneShot<Value>()
        let giveUpAt = Clock.monotonicNanoseconds() &+ timeout.nanoseconds &+ Self.waitGrace
        start { answer.set($0) }
        return (answer, giveUpAt)
    }

    /// Events still queued or in flight, read from the engine's state rather than asked of the
    /// flush thread. The thread holds the lock only for bookkeeping; should it not be free by
    /// `deadline`, only the calls still in the intake are counted.
    private func pendingNow(until deadline: UInt64) -> Int {
        locked.withLock(until: deadline) { state in state.scheduler.pendingEvents + intake.count } ?? intake.count
    }

    // MARK: The waiter lists (holding the lock)

    /// Removes every flush waiter; returns the call that tells them what is pending now.
    func takeIdleWaiters(in state: inout State) -> () -> Void {
        let waiters = state.idleWaiters
        state.idleWaiters = []
        let pending = pendingEvents(in: state)
        return { waiters.forEach { $0.done(FlushResult(pending: pending)) } }
    }

    /// Removes every lookup waiter (at shutdown); returns their callbacks.
    func takeLookupWaiters(in state: inout State) -> [@Sendable (Result<String, HimetricaError>) -> Void] {
        let all = state.lookupWaiters.values.flatMap { $0.map(\.done) }
        state.lookupWaiters = [:]
        return all
    }

    /// Removes waiters whose deadline has passed; returns the calls that tell them.
    func takeExpiredWaiters(in state: inout State, now: UInt64) -> () -> Void {
        let pending = pendingEvents(in: state)
        let idle = state.idleWaiters.filter { $0.deadline <= now }
        state.idleWaiters.removeAll { $0.deadline <= now }
        var lookups: [@Sendable (Result<String, HimetricaError>) -> Void] = []
        for (visitorId, waiters) in state.lookupWaiters where waiters.contains(where: { $0.deadline <= now }) {
            lookups += waiters.filter { $0.deadline <= now }.map(\.done)
            state.lookupWaiters[visitorId] = waiters.filter { $0.deadline > now }
        }
        return {
            idle.forEach { $0.done(FlushResult(pending: pending)) }
            lookups.forEach { $0(.failure(.timeout)) }
        }
    }
}
