/// A value handed from one thread to another that waits for it. Every wait has a deadline of
/// its own: the waiter never depends on the other thread to end it (a flush thread stuck in a
/// callback, or missing after a bad `fork()`, cannot hold a caller past its deadline).
package final class OneShot<Value: Sendable>: @unchecked Sendable {
    private struct Slot {
        var value: Value?
        var expired = false
        /// The one async waiter, if it is suspended.
        var continuation: CheckedContinuation<Value?, Never>?
    }

    private let slot = Locked(Slot())

    package init() {}

    /// Hands over `newValue`; only the first call counts.
    package func set(_ newValue: Value) {
        let waiting = slot.withLock { state -> CheckedContinuation<Value?, Never>? in
            guard state.value == nil else { return nil }
            state.value = newValue
            let waiting = state.continuation
            state.continuation = nil
            slot.broadcast()
            return waiting
        }
        waiting?.resume(returning: newValue)
    }

    /// Blocks until a value is set or `deadline` (``Clock/monotonicNanoseconds()``) passes;
    /// nil then.
    package func wait(until deadline: UInt64) -> Value? {
        slot.withLock(waitingUntil: deadline, for: { $0.value != nil }) { $0.value }
    }

    /// Suspends until a value is set or `deadline` passes (a timer task of its own ends the
    /// wait); nil then. One async waiter per value.
    package func value(until deadline: UInt64) async -> Value? {
        if let now = slot.withLock({ $0.value }) { return now }  // answered at once (a cached user id)
        let remaining = deadline &- min(deadline, Clock.monotonicNanoseconds())
        let timer = Task { [self] in
            guard (try? await Task.sleep(nanoseconds: remaining)) != nil else { return }
            expire()
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            // The answer now, if there is one already (or the wait expired); else nil, and the
            // continuation waits for `set` or `expire`.
            let now = slot.withLock { state -> Value?? in
                if state.value != nil || state.expired { return .some(state.value) }
                state.continuation = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    private func expire() {
        let waiting = slot.withLock { state in
            state.expired = true
            let waiting = state.continuation
            state.continuation = nil
            return waiting
        }
        waiting?.resume(returning: nil)
    }
}
