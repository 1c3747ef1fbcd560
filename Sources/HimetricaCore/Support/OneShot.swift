/// A value handed from one thread to another that waits for it. Every wait has a deadline of
/// its own: the waiter never depends on the other thread to end it (a flush thread stuck in a
/// callback, or missing after a bad `fork()`, cannot hold a caller past its deadline).
package final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var value: Value?
    private var expired = false
    /// The one async waiter, if it is suspended.
    private var continuation: CheckedContinuation<Value?, Never>?

    package init() {}

    /// Hands over `newValue`; only the first call counts.
    package func set(_ newValue: Value) {
        lock.lock()
        guard value == nil else { return lock.unlock() }
        value = newValue
        let waiting = continuation
        continuation = nil
        lock.broadcast()
        lock.unlock()
        waiting?.resume(returning: newValue)
    }

    /// Blocks until a value is set or `deadline` (``Clock/monotonicNanoseconds()``) passes;
    /// nil then.
    package func wait(until deadline: UInt64) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        while value == nil, Clock.monotonicNanoseconds() < deadline { lock.wait(untilMonotonic: deadline) }
        return value
    }

    /// Suspends until a value is set or `deadline` passes (a timer task of its own ends the
    /// wait); nil then. One async waiter per value.
    package func value(until deadline: UInt64) async -> Value? {
        if let now = lock.withLock({ value }) { return now }  // answered at once (a cached user id)
        let remaining = deadline &- min(deadline, Clock.monotonicNanoseconds())
        let timer = Task { [self] in
            guard (try? await Task.sleep(nanoseconds: remaining)) != nil else { return }
            expire()
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            lock.lock()
            if value != nil || expired {
                let now = value
                lock.unlock()
                return continuation.resume(returning: now)
            }
            self.continuation = continuation
            lock.unlock()
        }
    }

    private func expire() {
        lock.lock()
        expired = true
        let waiting = continuation
        continuation = nil
        lock.unlock()
        waiting?.resume(returning: nil)
    }
}
