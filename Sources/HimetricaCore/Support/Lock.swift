#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with a condition variable. The engine needs both (waiting callers and the
/// fork handlers), and a class so `pthread_atfork` handlers can reach it.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Takes the lock unless `deadline` (monotonic ns) passes first; says whether it did. For
    /// waits that must end by their own deadline whatever the lock's holder does.
    func lock(untilMonotonic deadline: UInt64) -> Bool {
        var pause = timespec(tv_sec: 0, tv_nsec: 100_000)
        while pthread_mutex_trylock(mutex) != 0 {
            if Clock.monotonicNanoseconds() >= deadline { return false }
            nanosleep(&pause, nil)
        }
        return true
    }

    /// Runs `body` holding the lock.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Wakes every thread waiting on the condition. Call holding the lock.
    func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits on the condition (holding the lock) until woken or `deadline` (monotonic ns)
    /// passes.
    func wait(untilMonotonic deadline: UInt64) {
        // pthread_cond_timedwait uses CLOCK_REALTIME by default: convert the remaining time.
        let remaining = deadline &- min(deadline, Clock.monotonicNanoseconds())
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let total = UInt64(now.tv_nsec) + remaining % 1_000_000_000
        var until = timespec(
            tv_sec: now.tv_sec + Int(remaining / 1_000_000_000) + Int(total / 1_000_000_000),
            tv_nsec: Int(total % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &until)
    }

    /// Makes the lock usable again in a child process after `fork()`, whatever state the
    /// parent's threads left it in.
    func reinitializeAfterFork() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }
}
