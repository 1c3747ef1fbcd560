import HimetricaCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The way into a client's C callbacks (delivery and log): every call of a user's function
/// pointer goes through ``call(_:)``.
///
/// - It marks the flush thread as calling out for the fork gate right before the function
///   pointer is called and right after it returns (see `ForkGate`), so a `fork()` never waits
///   for a callback that may be blocked on a lock the forking thread holds (Python's GIL).
/// - Once hm_client_free() has closed it, no call starts: a flush thread the shutdown had to
///   give up on (stuck in a callback) never calls into user data freed after hm_client_free()
///   returned.
final class Callouts: Sendable {
    /// Twice the number of calls under way, plus 1 once closed.
    private let state = Atomic<Int>(0)

    /// Calls `body` (one call of a user's C function) unless the client is closed.
    @inline(__always)
    func call(_ body: () -> Void) {
        var current = state.load(ordering: .acquiring)
        repeat {
            guard current & 1 == 0 else { return }
            let (exchanged, now) = state.compareExchange(
                expected: current, desired: current + 2, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = now
        } while true
        let gate = ForkGate.enterCallout()
        body()
        ForkGate.exitCallout(gate)
        state.wrappingSubtract(2, ordering: .releasing)
    }

    /// Lets no call start any more, and waits until none is under way or `deadline`
    /// (monotonic ns) passes; says whether none is.
    @discardableResult
    func close(waitingUntil deadline: UInt64) -> Bool {
        state.bitwiseOr(1, ordering: .acquiringAndReleasing)
        var pause = timespec(tv_sec: 0, tv_nsec: 200_000)
        while state.load(ordering: .acquiring) > 1 {
            if Clock.monotonicNanoseconds() >= deadline { return false }
            nanosleep(&pause, nil)
        }
        return true
    }
}
