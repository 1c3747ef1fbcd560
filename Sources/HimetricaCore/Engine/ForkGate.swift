import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one engine's flush thread may be when `fork()` copies the process: the `pthread_atfork`
/// prepare handler waits (bounded) until the thread is at a safe point, so the child never
/// inherits a lock (Swift runtime, libcurl, OpenSSL, the engine's own) held by a thread that
/// does not exist in the child.
///
/// Safe points, where the thread holds no lock of ours and runs no Swift runtime, libcurl or
/// TLS code:
/// - *parked* at ``pass()``, placed right after the transport's poll returns and before the
///   thread takes the engine lock again;
/// - *calling out*: inside a user's C callback (delivery or log), marked by ``enterCallout()``
///   right before the C function pointer is called. Such a callback may be blocked on a lock
///   the forking thread holds (Python's GIL), so waiting for it to return could deadlock; when
///   it returns, ``exitCallout(_:)`` parks the thread if a fork is still in progress, before it
///   does anything else;
/// - *blocked*: inside a blocking C call that runs no Swift or user code (the shared limit's
///   hiredis calls and its condition wait), marked by ``enterBlockingCall()``, and left by
///   ``exitCallout(_:)`` the same way;
/// - *no thread* (not started yet, or ended).
///
/// A callout is safe for `fork()` only as far as the callback is: a Python callback entering
/// Python (a new thread state for the flush thread) holds CPython's interpreter-list lock for a
/// moment, and CPython 3.11 and older, unless patched, takes that lock in the child before
/// renewing it (python/cpython#112275), so a child forked in that moment hangs. A runtime like that calls
/// ``ProcessHooks/parkBeforeFork()`` (`hm_prepare_fork`) before it forks, with its own
/// lock released: every thread then leaves its callback and parks (``awaitParked(until:)``),
/// and the prepare handler finds it there.
///
/// Only atomics and `nanosleep`: nothing here takes a lock, so a parked thread holds none.
/// Like gRPC core's fork support (`GRPC_ENABLE_FORK_SUPPORT`, whose prepare handler stops its
/// threads, waiting a bounded time), the thread is brought to rest before `fork()`; unlike it,
/// the thread is parked rather than joined, so the parent resumes it without a restart.
package final class ForkGate: @unchecked Sendable {
    /// How long (ns) the prepare handler waits for the flush threads to reach a safe point
    /// before it lets `fork()` go ahead anyway (and each engine logs that it did).
    static let safePointWait: UInt64 = 1_000_000_000

    private enum Position: Int {
        case noThread, busy, parked, callingOut, blocked
    }

    /// Where the flush thread is (a ``Position``).
    private let position = Atomic<Int>(Position.noThread.rawValue)
    /// Whether the thread parks at its safe points, and until when: ``noFork``, ``untilForkEnds``
    /// (set by the prepare handler, cleared in the parent after `fork()` and in the child), or
    /// the monotonic ns until which a fork announced ahead of time parks it at most.
    private let parkUntil = Atomic<UInt64>(ForkGate.noFork)
    private static let noFork: UInt64 = 0
    private static let untilForkEnds: UInt64 = .max
    /// Forks that went ahead while this thread was not at a safe point: the flush thread logs
    /// them (a `pthread_atfork` handler must not).
    private let unsafeForks = Atomic<Int>(0)

    /// The gate of the flush thread running on this thread, if it is one.
    private static let current: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    init() { _ = Self.current }

    // MARK: The flush thread

    /// Called by the thread that starts the flush thread, before `pthread_create`: from here on
    /// the thread counts as busy.
    func threadStarting() { position.store(Position.busy.rawValue, ordering: .sequentiallyConsistent) }

    /// Called first on the flush thread: ``enterCallout()`` finds this gate from here on.
    func bindToCurrentThread() {
        pthread_setspecific(Self.current, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Called last on the flush thread, once it no longer touches the engine.
    func threadEnded() { position.store(Position.noThread.rawValue, ordering: .sequentiallyConsistent) }

    /// The flush thread's safe point after each poll: parks while a fork is in progress.
    /// Returns how many forks went ahead without waiting for this thread since the last call,
    /// for the thread to log.
    func pass() -> Int {
        if parkUntil.load(ordering: .sequentiallyConsistent) != Self.noFork { park() }
        guard unsafeForks.load(ordering: .relaxed) > 0 else { return 0 }
        return unsafeForks.exchange(0, ordering: .relaxed)
    }

    private func park() {
        position.store(Position.parked.rawValue, ordering: .sequentiallyConsistent)
        var pause = timespec(tv_sec: 0, tv_nsec: 50_000)
        while true {
            let until = parkUntil.load(ordering: .sequentiallyConsistent)
            if until == Self.noFork { break }
            if until != Self.untilForkEnds, Clock.monotonicNanoseconds() >= until {
                // Announced, but no fork came in time: go on (unless one began meanwhile).
                _ = parkUntil.compareExchange(expected: until, desired: Self.noFork, ordering: .sequentiallyConsistent)
                continue
            }
            nanosleep(&pause, nil)
        }
        position.store(Position.busy.rawValue, ordering: .sequentiallyConsistent)
    }

    /// Marks the calling thread, if it is a flush thread, as inside a user's callback. Call it
    /// right before the C function pointer, with no Swift runtime work in between, and pass its
    /// result to ``exitCallout(_:)`` right after.
    package static func enterCallout() -> UnsafeMutableRawPointer? { enter(.callingOut) }

    /// Marks the calling thread, if it has a gate, as inside a blocking C call that runs no
    /// Swift or user code (hiredis, a condition wait); pass the result to ``exitCallout(_:)``.
    static func enterBlockingCall() -> UnsafeMutableRawPointer? { enter(.blocked) }

    private static func enter(_ position: Position) -> UnsafeMutableRawPointer? {
        guard let gate = pthread_getspecific(current) else { return nil }
        Unmanaged<ForkGate>.fromOpaque(gate)._withUnsafeGuaranteedRef {
            $0.position.store(position.rawValue, ordering: .sequentiallyConsistent)
        }
        return gate
    }

    /// The callback (or blocking call) returned: parks the thread if a fork is in progress,
    /// else marks it busy.
    package static func exitCallout(_ gate: UnsafeMutableRawPointer?) {
        guard let gate else { return }
        Unmanaged<ForkGate>.fromOpaque(gate)._withUnsafeGuaranteedRef { gate in
            gate.position.store(Position.busy.rawValue, ordering: .sequentiallyConsistent)
            // Busy first, then the look: a prepare handler that saw the callout before the
            // store had already announced its fork, so the look sees it.
            if gate.parkUntil.load(ordering: .sequentiallyConsistent) != ForkGate.noFork { gate.park() }
        }
    }

    // MARK: The forking thread (pthread_atfork handlers)

    /// Announces a fork: from now on the thread parks at its next safe point. The caller then
    /// wakes the thread out of its poll and calls ``awaitSafePoint(until:)``.
    func forkBegins() { parkUntil.store(Self.untilForkEnds, ordering: .sequentiallyConsistent) }

    /// Announces a fork ahead of the prepare handler (``ProcessHooks/parkBeforeFork()``):
    /// the thread parks at its next safe point until `deadline` (monotonic ns) at most, or until
    /// the fork that follows ends. The caller then wakes the thread and calls
    /// ``awaitParked(until:)``.
    func forkAnnounced(parkingAtMostUntil deadline: UInt64) {
        var current = parkUntil.load(ordering: .sequentiallyConsistent)
        while current != Self.untilForkEnds {
            let (exchanged, found) = parkUntil.compareExchange(
                expected: current, desired: deadline, ordering: .sequentiallyConsistent)
            if exchanged { return }
            current = found
        }
    }

    /// Waits until the flush thread is at a safe point or `deadline` (monotonic ns) passes;
    /// says whether it got there. Returns at once when called on the flush thread itself (a
    /// fork from inside a callback) or when there is no thread.
    @discardableResult
    func awaitSafePoint(until deadline: UInt64) -> Bool {
        if waitForSafePoint(until: deadline, calloutIsSafe: true) { return true }
        unsafeForks.wrappingAdd(1, ordering: .relaxed)
        return false
    }

    /// Waits, like ``awaitSafePoint(until:)``, until the thread is parked or blocked (or has
    /// none, or this is it): a thread inside a callback does not count. Says whether it got
    /// there.
    func awaitParked(until deadline: UInt64) -> Bool {
        waitForSafePoint(until: deadline, calloutIsSafe: false)
    }

    private func waitForSafePoint(until deadline: UInt64, calloutIsSafe: Bool) -> Bool {
        if let gate = pthread_getspecific(Self.current), gate == Unmanaged.passUnretained(self).toOpaque() {
            return true
        }
        var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
        while true {
            switch Position(rawValue: position.load(ordering: .sequentiallyConsistent)) {
            case .noThread?, .parked?, .blocked?: return true
            case .callingOut? where calloutIsSafe: return true
            case .callingOut?, .busy?, nil: break
            }
            if Clock.monotonicNanoseconds() >= deadline { return false }
            nanosleep(&pause, nil)
        }
    }

    /// In the parent after `fork()`: the thread goes on.
    func forkEnded() { parkUntil.store(Self.noFork, ordering: .sequentiallyConsistent) }

    /// In the child after `fork()`: no flush thread exists here (the engine starts a new one).
    func resetInChild() {
        parkUntil.store(Self.noFork, ordering: .sequentiallyConsistent)
        position.store(Position.noThread.rawValue, ordering: .sequentiallyConsistent)
    }
}
