/// A value handed from one thread to another that waits for it, with a deadline. Lets the
/// blocking C calls wait on the engine's callbacks.
final class OneShot<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    func set(_ newValue: Value) {
        lock.withLock {
            if value == nil { value = newValue }
            lock.broadcast()
        }
    }

    /// Waits until a value is set; the engine's own deadlines bound the wait.
    func wait() -> Value {
        lock.lock()
        defer { lock.unlock() }
        while value == nil { lock.wait(untilMonotonic: Clock.monotonicNanoseconds() + nanosecondsPerSecond) }
        return value!
    }
}
