#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Stopping: a shutdown that waits (bounded) for the flush thread, a close that does not, the
/// flush at process exit, and what is dropped at the end of the engine's life.
extension Engine {
    /// What a shutdown does after it has set the engine stopping.
    private enum StopStep {
        /// Done already: the answer, and what reports the requests dropped.
        case answered(FlushResult, tell: () -> Void)
        /// Wait for the flush thread (nil: there is none) to stop; `droppedBefore` is the
        /// dropped count before this shutdown.
        case waitForThread(pthread_t?, droppedBefore: UInt64)
    }

    /// Stops taking calls, sends what it can within `timeout` seconds, then stops the flush
    /// thread. Whatever is still pending then is dropped (and reported as such). Safe to call
    /// more than once and from any thread.
    @discardableResult
    package func shutdown(timeout: Double) -> FlushResult {
        shutdown(timeout: timeout, cause: "shutdown (timeout \(Self.seconds(timeout)) s)")
    }

    /// What a binding calls as its process exits: ``shutdown(timeout:)`` within
    /// ``Configuration/exitFlushTimeout``, and the one line about requests not delivered by
    /// then says it was the exit (and which option bounds it).
    @discardableResult
    package func shutdownAtExit() -> FlushResult {
        shutdown(timeout: configuration.exitFlushTimeout.seconds, cause: exitCause)
    }

    private var exitCause: String { "exit (exit_flush_timeout \(Self.seconds(configuration.exitFlushTimeout.seconds)) s)" }

    private func shutdown(timeout: Double, cause: String) -> FlushResult {
        intake.close()
        let step = locked.withLock { state -> StopStep in
            if state.phase == .running { state.stopCause = cause }
            let dropped = state.scheduler.stats.dropped
            let deadline = clock.monotonicNanoseconds() &+ timeout.nanoseconds
            switch state.phase {
            case .stopped:
                return .answered(FlushResult(pending: 0), tell: {})
            case .running where state.thread == nil:
                state.phase = .stopped
                let (dropped, tell) = dropEverything(in: &state)
                return .answered(FlushResult(pending: dropped), tell: tell)
            case .running, .stopping:
                if state.phase == .running || deadline < state.stopDeadline { state.stopDeadline = deadline }
                state.phase = .stopping
            }
            return .waitForThread(state.thread, droppedBefore: dropped)
        }
        let flushThread: pthread_t?, droppedBefore: UInt64
        switch step {
        case .answered(let result, let tell):
            tell()
            return result
        case .waitForThread(let thread, let dropped):
            (flushThread, droppedBefore) = (thread, dropped)
        }
        let onFlushThread = flushThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        transport.wakeup()
        guard !onFlushThread, let flushThread else {
            return FlushResult(pending: locked.withLock { $0.scheduler.pendingEvents })
        }

        let giveUpAt = Clock.monotonicNanoseconds() &+ timeout.nanoseconds &+ Self.waitGrace
        let (pending, joinable) = locked.withLock(waitingUntil: giveUpAt, for: { $0.phase == .stopped || $0.threadDetached }) {
            state -> (Int, Bool) in
            guard state.phase == .stopped else {
                // The thread did not stop by the deadline (stuck in a callback, say): it is given
                // up on, not waited for. It holds its own reference to the engine, so nothing it
                // uses is freed under it; whatever it still holds it drops when it gets to.
                let pending = state.scheduler.pendingEvents + intake.count
                if !state.threadDetached { pthread_detach(flushThread) }
                state.threadDetached = true
                return (pending, false)
            }
            let pending = spooling.map(\.ownWaiting) ?? Int(state.scheduler.stats.dropped - droppedBefore)
            let joinable = state.thread != nil && !state.threadDetached
            state.thread = nil
            return (pending, joinable)
        }
        if joinable { pthread_join(flushThread, nil) }
        return FlushResult(pending: pending)
    }

    /// Like ``shutdown(timeout:)`` but without waiting: the thread sends what it can within
    /// ``Configuration/exitFlushTimeout`` and then ends. For owners that are going away.
    package func close() {
        intake.close()
        locked.withLock { state in
            guard state.phase == .running else { return }
            if let flushThread = state.thread {
                state.phase = .stopping
                state.stopCause = "the client was freed (exit_flush_timeout \(Self.seconds(configuration.exitFlushTimeout.seconds)) s)"
                state.stopDeadline = clock.monotonicNanoseconds() &+ configuration.exitFlushTimeout.nanoseconds
                pthread_detach(flushThread)
                state.threadDetached = true
            } else {
                state.phase = .stopped
            }
        }
        transport.wakeup()
    }

    /// At process exit: a bounded flush, unless called from the flush thread itself.
    /// When requests are left, one line says so (a stopping engine says it itself when it
    /// drops them).
    func flushAtExit() {
        let (thread, running) = locked.withLock { state in (state.thread, state.phase == .running) }
        let onFlushThread = thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        guard !onFlushThread else { return }
        let result = flush(timeout: configuration.exitFlushTimeout.seconds)
        if running, result.pending > 0 { logger.warning("\(Self.undelivered(result.pending, before: exitCause))") }
    }

    /// At the end of the engine's life: drops every call and request still queued or in flight
    /// and fails the lookups still waiting. Returns how many requests were dropped and what
    /// reports them, to run once the lock is released.
    func dropEverything(in state: inout State) -> (dropped: Int, tell: () -> Void) {
        if spooling == nil { takeIntake(in: &state) }
        let (deliveries, _) = state.scheduler.dropAll()
        finished(deliveries.count)
        let waiters = takeLookupWaiters(in: &state)
        let cause = state.stopCause
        return (deliveries.count, { [self] in
            report(deliveries)
            if !deliveries.isEmpty { logger.warning("\(Self.undelivered(deliveries.count, before: cause))") }
            waiters.forEach { $0(.failure(.shutDown)) }
        })
    }

    /// The one line for requests a client could not deliver before it stopped.
    static func undelivered(_ count: Int, before cause: String) -> String {
        (count == 1 ? "1 request was" : "\(count) requests were")
            + " not delivered before \(cause); set the spool option to keep them across restarts"
    }

    /// Seconds as a message shows them: `2`, `0.5`.
    private static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
