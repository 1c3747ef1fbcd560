@testable import Himetrica
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What happens when the system refuses a thread (`pthread_create` fails, as under a low
/// RLIMIT_NPROC): the blocking work behind `await shutdown()` must still run, exactly once.
/// (The engine's own flush thread is covered from C: Tests/c/test_thread_start.c.)
@Suite
struct ThreadStartTests {
    /// A `pthread_create` that always fails the way a process at its thread limit sees it.
    static func refuse(
        _: UnsafeMutablePointer<pthread_t>, _: UnsafePointer<pthread_attr_t>?,
        _: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?, _: UnsafeMutableRawPointer?
    ) -> Int32 { EAGAIN }

    @Test("a refused thread is reported and its work never runs on it")
    func refusedThreadIsReported() {
        let status = Himetrica.Thread.detachBlocking({ Issue.record("the work ran without a thread") }, start: Self.refuse)
        #expect(status == EAGAIN)
    }

    @Test("with no thread to spare, blocking work runs on the caller's thread, so its waiter resumes")
    func refusedThreadStillRuns() async {
        let runs = await withCheckedContinuation { continuation in
            Himetrica.Thread.runBlocking({ continuation.resume(returning: 1) }, start: Self.refuse)
        }
        #expect(runs == 1)
    }

    @Test("a started thread runs the work")
    func startedThreadRuns() async {
        let ran = await withCheckedContinuation { continuation in
            Himetrica.Thread.runBlocking { continuation.resume(returning: true) }
        }
        #expect(ran)
    }
}
