#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide hooks every engine needs: a fresh engine in a child after `fork()`, and a
/// bounded flush of every live engine when the process exits. Besides the flush threads, the
/// fork handlers bring every other thread of the toolkit with a ``ForkGate`` (the shared
/// limit's) to a safe point.
enum ProcessHooks {
    private final class WeakEngine {
        weak var engine: Engine?
        init(_ engine: Engine) { self.engine = engine }
    }

    private final class WeakGate {
        weak var gate: ForkGate?
        init(_ gate: ForkGate) { self.gate = gate }
    }

    nonisolated(unsafe) private static var engines: [WeakEngine] = []
    nonisolated(unsafe) private static var gates: [WeakGate] = []
    nonisolated(unsafe) private static var forkGates: [ForkGate] = []
    nonisolated(unsafe) private static var forkLocked: [Engine] = []
    private static let lock = ConditionLock()

    private static let installed: Void = {
        pthread_atfork(
            { ProcessHooks.prepareFork() },
            { ProcessHooks.afterFork(child: false) },
            { ProcessHooks.afterFork(child: true) })
        atexit { ProcessHooks.flushAllAtExit() }
    }()

    /// Tracks `engine` for the fork and exit hooks.
    static func register(_ engine: Engine) {
        _ = installed
        lock.withLock {
            engines.removeAll { $0.engine == nil }
            engines.append(WeakEngine(engine))
        }
    }

    /// Tracks the gate of a thread that is not a flush thread, for the fork hooks.
    static func register(_ gate: ForkGate) {
        _ = installed
        lock.withLock {
            gates.removeAll { $0.gate == nil }
            gates.append(WeakGate(gate))
        }
    }

    private static func live() -> [Engine] {
        engines.compactMap(\.engine)
    }

    /// Brings every flush thread to a safe point (bounded: ``ForkGate/safePointWait`` for all
    /// together), then holds every engine's lock across `fork()`, so the child inherits no
    /// lock a missing thread holds and sees consistent state.
    private static func prepareFork() {
        lock.lock()
        forkLocked = live()
        forkGates = gates.compactMap(\.gate)
        forkGates.forEach { $0.forkBegins() }
        forkLocked.forEach { $0.announceFork() }
        let deadline = Clock.monotonicNanoseconds() &+ ForkGate.safePointWait
        forkLocked.forEach { $0.forkGate.awaitSafePoint(until: deadline) }
        forkGates.forEach { $0.awaitSafePoint(until: deadline) }
        forkLocked.forEach { $0.lockForFork() }
    }

    private static func afterFork(child: Bool) {
        if child {
            forkLocked.forEach { $0.resetAfterFork() }
            forkGates.forEach { $0.resetInChild() }
            lock.reinitializeAfterFork()
        } else {
            forkLocked.forEach { $0.unlockAfterFork() }
            forkGates.forEach { $0.forkEnded() }
            lock.unlock()
        }
        forkLocked = []
        forkGates = []
    }

    private static func flushAllAtExit() {
        let engines = lock.withLock { live() }
        engines.forEach { $0.flushAtExit() }
    }
}
