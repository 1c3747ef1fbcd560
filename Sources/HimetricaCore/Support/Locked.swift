/// A value one pthread mutex guards, reachable only while holding it: through ``withLock(_:)``
/// and its bounded and waiting forms, so no path can forget to unlock or touch the value
/// unlocked.
///
/// Not `Synchronization.Mutex`: that is a futex owned by a thread id, with no condition
/// variable, no way to hold it from one function to another, and no way to make it fresh in
/// a child process. The engine needs all three: callers wait on a condition (shutdown), the
/// `pthread_atfork` handlers hold the lock across `fork()` (``takeForFork(_:)`` and
/// ``releaseAfterFork()``, the one take and release outside a scope), and the child
/// re-creates it (``reinitializeAfterFork()``).
final class Locked<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` on the value, holding the lock.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(&value) }
    }

    /// Runs `body` on the value holding the lock, unless the lock is not free by `deadline`
    /// (monotonic ns); nil then. For waits that must end by their own deadline whatever the
    /// lock's holder does.
    func withLock<Result>(until deadline: UInt64, _ body: (inout Value) -> Result) -> Result? {
        guard lock.lock(untilMonotonic: deadline) else { return nil }
        defer { lock.unlock() }
        return body(&value)
    }

    /// Holding the lock, waits (releasing it meanwhile) until `ready` holds or `deadline`
    /// (monotonic ns) passes, then runs `body` on the value, whichever it was. A change that
    /// can make `ready` true calls ``broadcast()``.
    func withLock<Result>(
        waitingUntil deadline: UInt64, for ready: (Value) -> Bool, _ body: (inout Value) -> Result
    ) -> Result {
        lock.withLock {
            while !ready(value), Clock.monotonicNanoseconds() < deadline { lock.wait(untilMonotonic: deadline) }
            return body(&value)
        }
    }

    /// Wakes every waiter in ``withLock(waitingUntil:for:_:)`` to look again. Call it inside a
    /// `withLock` body, after the change it waits for.
    func broadcast() { lock.broadcast() }

    // MARK: Across fork()

    /// The `pthread_atfork` prepare handler's take: runs `body` holding the lock, and keeps
    /// holding it across `fork()` so neither process inherits the value half-changed. Pair it
    /// with ``releaseAfterFork()`` in the parent and ``reinitializeAfterFork()`` in the child.
    func takeForFork<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        return body(&value)
    }

    /// In the parent after `fork()`: releases what ``takeForFork(_:)`` took.
    func releaseAfterFork() { lock.unlock() }

    /// In the child after `fork()`: a fresh, free lock, whatever the parent's threads left it
    /// in (only the forking thread exists here; it then takes the lock as usual).
    func reinitializeAfterFork() { lock.reinitializeAfterFork() }
}
