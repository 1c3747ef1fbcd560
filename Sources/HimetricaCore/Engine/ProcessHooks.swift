#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide hooks every engine needs: a fresh engine in a child after `fork()`, and a
/// bounded flush of every live engine when the process exits. Besides the flush threads, the
/// fork handlers bring every other thread of the toolkit with a ``ForkGate`` (the shared
/// limit's) to a safe point.
package enum ProcessHooks {
    private final class WeakEngine {
        weak var engine: Engine?
        init(_ engine: Engine) { self.engine = engine }
    }

    private final class WeakGate {
        weak var gate: ForkGate?
        init(_ gate: ForkGate) { self.gate = gate }
    }

    /// What the hooks know of: the engines, and the gates of the toolkit's other threads.
    private struct Registry {
        var engines: [WeakEngine] = []
        var gates: [WeakGate] = []

        var liveEngines: [Engine] { engines.compactMap(\.engine) }
    }

    private static let registry = Locked(Registry())
    /// The engines whose locks the prepare handler took, and the gates it stopped. Set and read
    /// only by the forking thread, from the prepare handler to the after-fork handler, while it
    /// holds `registry`.
    nonisolated(unsafe) private static var forkLocked: [Engine] = []
    nonisolated(unsafe) private static var forkGates: [ForkGate] = []

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
        registry.withLock { registry in
            registry.engines.removeAll { $0.engine == nil }
            registry.engines.append(WeakEngine(engine))
        }
    }

    /// Tracks the gate of a thread that is not a flush thread, for the fork hooks.
    static func register(_ gate: ForkGate) {
        _ = installed
        registry.withLock { registry in
            registry.gates.removeAll { $0.gate == nil }
            registry.gates.append(WeakGate(gate))
        }
    }

    /// Brings every flush thread and every other gated thread to a safe point (bounded:
    /// ``ForkGate/safePointWait`` for all together), then holds every engine's lock across
    /// `fork()`, so the child inherits no lock a missing thread holds and sees consistent state.
    private static func prepareFork() {
        (forkLocked, forkGates) = registry.takeForFork { ($0.liveEngines, $0.gates.compactMap(\.gate)) }
        forkGates.forEach { $0.forkBegins() }
        forkLocked.forEach { $0.announceFork() }
        let deadline = Clock.monotonicNanoseconds() &+ ForkGate.safePointWait
        forkLocked.forEach { $0.forkGate.awaitSafePoint(until: deadline) }
        forkGates.forEach { $0.awaitSafePoint(until: deadline) }
        forkLocked.forEach { $0.lockForFork() }
    }

    /// Ahead of a `fork()` that a language runtime makes (`hm_prepare_fork`), called with the
    /// runtime's own lock released: waits (bounded: ``ForkGate/safePointWait``) until every
    /// gated thread is out of its callbacks and parked (or blocked in a C call), and keeps it
    /// from going on until that fork ends, or for another ``ForkGate/safePointWait`` if none
    /// comes. Says whether all of them got there; if not, `fork()` still goes ahead as without
    /// this call.
    package static func parkBeforeFork() -> Bool {
        let (engines, gates) = registry.withLock { ($0.liveEngines, $0.gates.compactMap(\.gate)) }
        let deadline = Clock.monotonicNanoseconds() &+ ForkGate.safePointWait
        let parkUntil = deadline &+ ForkGate.safePointWait
        gates.forEach { $0.forkAnnounced(parkingAtMostUntil: parkUntil) }
        engines.forEach { $0.announceForkAhead(parkingAtMostUntil: parkUntil) }
        let allGates = gates + engines.map(\.forkGate)
        return allGates.reduce(true) { parked, gate in gate.awaitParked(until: deadline) && parked }
    }

    private static func afterFork(child: Bool) {
        if child {
            forkLocked.forEach { $0.resetAfterFork() }
            forkGates.forEach { $0.resetInChild() }
            registry.reinitializeAfterFork()
        } else {
            forkLocked.forEach { $0.unlockAfterFork() }
            forkGates.forEach { $0.forkEnded() }
            registry.releaseAfterFork()
        }
        forkLocked = []
        forkGates = []
    }

    private static func flushAllAtExit() {
        registry.withLock { $0.liveEngines }.forEach { $0.flushAtExit() }
    }
}
