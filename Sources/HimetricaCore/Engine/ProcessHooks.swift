#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide hooks every engine needs: a fresh engine in a child after `fork()`, and a
/// bounded flush of every live engine when the process exits.
enum ProcessHooks {
    private final class WeakEngine {
        weak var engine: Engine?
        init(_ engine: Engine) { self.engine = engine }
    }

    private static let engines = Locked<[WeakEngine]>([])
    /// The engines whose locks the prepare handler took. Set and read only by the forking
    /// thread, from the prepare handler to the after-fork handler, while it holds `engines`.
    nonisolated(unsafe) private static var forkLocked: [Engine] = []

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
        engines.withLock { engines in
            engines.removeAll { $0.engine == nil }
            engines.append(WeakEngine(engine))
        }
    }

    private static func live(_ engines: [WeakEngine]) -> [Engine] {
        engines.compactMap(\.engine)
    }

    /// Brings every flush thread to a safe point (bounded: ``ForkGate/safePointWait`` for all
    /// together), then holds every engine's lock across `fork()`, so the child inherits no
    /// lock a missing thread holds and sees consistent state.
    private static func prepareFork() {
        forkLocked = engines.takeForFork { live($0) }
        forkLocked.forEach { $0.announceFork() }
        let deadline = Clock.monotonicNanoseconds() &+ ForkGate.safePointWait
        forkLocked.forEach { $0.forkGate.awaitSafePoint(until: deadline) }
        forkLocked.forEach { $0.lockForFork() }
    }

    private static func afterFork(child: Bool) {
        if child {
            forkLocked.forEach { $0.resetAfterFork() }
            engines.reinitializeAfterFork()
        } else {
            forkLocked.forEach { $0.unlockAfterFork() }
            engines.releaseAfterFork()
        }
        forkLocked = []
    }

    private static func flushAllAtExit() {
        engines.withLock { live($0) }.forEach { $0.flushAtExit() }
    }
}
