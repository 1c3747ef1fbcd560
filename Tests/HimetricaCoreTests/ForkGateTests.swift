import HimetricaRules
import Synchronization
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A stand-in flush thread: binds `gate`, then loops "busy work, safe point" until stopped,
/// optionally calling out (as the C trampolines do) in every turn.
private final class GateThread: @unchecked Sendable {
    let gate = ForkGate()
    let stop = Atomic<Bool>(false)
    let turns = Atomic<Int>(0)
    private var thread: TestThread?

    init(callingOut: (@Sendable () -> Void)? = nil) {
        gate.threadStarting()
        let thread = TestThread { [self] in
            gate.bindToCurrentThread()
            while !stop.load(ordering: .relaxed) {
                _ = gate.pass()
                if let callingOut {
                    let token = ForkGate.enterCallout()
                    callingOut()
                    ForkGate.exitCallout(token)
                }
                turns.wrappingAdd(1, ordering: .relaxed)
                usleep(100)
            }
            gate.threadEnded()
        }
        self.thread = thread
        thread.start()
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        thread?.join()
    }
}

private func deadline(_ seconds: Double) -> UInt64 { Clock.monotonicNanoseconds() + seconds.nanoseconds }

@Suite("The fork gate, and waits that end by their own deadline", .timeLimit(.minutes(1)))
struct ForkGateTests {
    @Test("no thread is a safe point; a thread that passes its gate parks there until the fork ends")
    func parksAtTheGate() {
        #expect(ForkGate().awaitSafePoint(until: deadline(0)), "a gate without a thread never waits")
        let worker = GateThread()
        worker.gate.forkBegins()
        #expect(worker.gate.awaitSafePoint(until: deadline(5)))
        let parkedAt = worker.turns.load(ordering: .relaxed)
        usleep(20_000)
        #expect(worker.turns.load(ordering: .relaxed) == parkedAt, "a parked thread does no work")
        worker.gate.forkEnded()
        #expect(waitUntil(timeout: 5) { worker.turns.load(ordering: .relaxed) > parkedAt }, "it goes on after the fork")
        worker.finish()
        #expect(worker.gate.awaitSafePoint(until: deadline(0)), "an ended thread is a safe point")
    }

    @Test("a thread that never reaches its gate holds the fork up only until the deadline, and is told")
    func boundedWait() {
        let gate = ForkGate()
        gate.threadStarting()  // busy, and never passes the gate
        gate.forkBegins()
        let (reached, elapsed) = timed { gate.awaitSafePoint(until: deadline(0.2)) }
        #expect(!reached)
        #expect(elapsed >= 0.19 && elapsed < 1, "took \(elapsed) s")
        gate.forkEnded()
        #expect(gate.pass() == 1, "the thread learns that a fork went ahead without it")
        #expect(gate.pass() == 0)
    }

    @Test("a thread inside a callback is at a safe point (it may wait for the forking thread), and parks when it returns")
    func callbackIsASafePoint() {
        // The callback waits for a lock the "forking" test thread holds, as a Python callback
        // waits for the GIL of a thread inside os.fork().
        let forkersLock = ConditionLock()
        forkersLock.lock()
        let inCallback = Atomic<Int>(0)
        let worker = GateThread {
            inCallback.wrappingAdd(1, ordering: .relaxed)
            forkersLock.withLock {}
        }
        #expect(waitUntil(timeout: 5) { inCallback.load(ordering: .relaxed) > 0 })
        worker.gate.forkBegins()
        let (reached, elapsed) = timed { worker.gate.awaitSafePoint(until: deadline(5)) }
        #expect(reached && elapsed < 1, "the fork did not wait for the callback (\(elapsed) s)")
        let turns = worker.turns.load(ordering: .relaxed)
        forkersLock.unlock()  // "after the fork": the callback returns and the thread parks
        usleep(20_000)
        #expect(worker.turns.load(ordering: .relaxed) == turns, "the thread parked as its callback returned")
        worker.gate.forkEnded()
        #expect(waitUntil(timeout: 5) { worker.turns.load(ordering: .relaxed) > turns })
        worker.finish()
    }

    @Test("a fork announced ahead waits for the callback to return, parks the thread until the fork ends, or lets it go at its deadline")
    func announcedAhead() {
        let release = ConditionLock()
        release.lock()
        let inCallback = Atomic<Int>(0)
        let worker = GateThread {
            if inCallback.wrappingAdd(1, ordering: .relaxed).oldValue == 0 { release.withLock {} }
        }
        #expect(waitUntil(timeout: 5) { inCallback.load(ordering: .relaxed) > 0 })
        worker.gate.forkAnnounced(parkingAtMostUntil: deadline(30))
        let (parkedEarly, heldTook) = timed { worker.gate.awaitParked(until: deadline(0.2)) }
        #expect(!parkedEarly && heldTook >= 0.19, "a thread inside a callback is not parked (\(heldTook) s)")
        release.unlock()
        #expect(worker.gate.awaitParked(until: deadline(5)), "it parks as the callback returns")
        // The fork comes: its prepare handler finds the thread parked, the parent lets it go on.
        worker.gate.forkBegins()
        #expect(worker.gate.awaitSafePoint(until: deadline(0)))
        let turns = worker.turns.load(ordering: .relaxed)
        usleep(20_000)
        #expect(worker.turns.load(ordering: .relaxed) == turns)
        worker.gate.forkEnded()
        #expect(waitUntil(timeout: 5) { worker.turns.load(ordering: .relaxed) > turns })

        // Announced, but no fork comes: the thread goes on at the deadline by itself.
        worker.gate.forkAnnounced(parkingAtMostUntil: deadline(0.3))
        #expect(worker.gate.awaitParked(until: deadline(5)))
        let parkedTurns = worker.turns.load(ordering: .relaxed)
        let (resumed, resumeTook) = timed { waitUntil(timeout: 5) { worker.turns.load(ordering: .relaxed) > parkedTurns } }
        #expect(resumed && resumeTook < 2, "went on \(resumeTook) s after parking")
        #expect(worker.gate.pass() == 0, "no fork went ahead without it")
        worker.finish()
    }

    @Test("a thread blocked in a C call (hiredis, a condition wait) counts as parked for a fork announced ahead, and parks when the call returns")
    func blockedCallIsParked() {
        let release = ConditionLock()
        release.lock()
        let gate = ForkGate()
        gate.threadStarting()
        let returned = Atomic<Bool>(false)
        let thread = TestThread {
            gate.bindToCurrentThread()
            let token = ForkGate.enterBlockingCall()
            release.withLock {}
            ForkGate.exitCallout(token)  // parks here while the fork is announced
            returned.store(true, ordering: .relaxed)
            gate.threadEnded()
        }
        thread.start()
        usleep(20_000)
        gate.forkAnnounced(parkingAtMostUntil: deadline(30))
        let (parked, took) = timed { gate.awaitParked(until: deadline(5)) }
        #expect(parked && took < 1, "blocked counts as parked (\(took) s)")
        release.unlock()
        usleep(20_000)
        let returnedWhileAnnounced = returned.load(ordering: .relaxed)
        #expect(!returnedWhileAnnounced, "back from the call, it parked")
        gate.forkEnded()
        thread.join()
        let returnedAfterTheFork = returned.load(ordering: .relaxed)
        #expect(returnedAfterTheFork)
    }

    @Test("callouts outside a flush thread are no-ops")
    func calloutOffTheFlushThread() {
        let token = ForkGate.enterCallout()
        #expect(token == nil)
        ForkGate.exitCallout(token)
    }

    @Test("a flush thread held inside a delivery callback: flush, user id and shutdown end by their deadlines with what is pending")
    func heldInCallback() async throws {
        let held = ConditionLock()
        held.lock()
        let entered = Atomic<Int>(0)
        let deliveries = Recorder<Delivery>()
        let transport = FakeTransport()
        let engine = try makeEngine(transport) { configuration in
            configuration.maxInFlight = 1  // one answer per poll: exactly one outcome before the hold
            configuration.onDelivery = { delivery in
                if entered.wrappingAdd(1, ordering: .relaxed).oldValue == 0 { held.withLock {} }
                deliveries.append(delivery)
            }
        }
        for n in 0..<10 { try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: trackBody(n)) }
        #expect(waitUntil(timeout: 5) { entered.load(ordering: .relaxed) == 1 })

        let (flushed, flushTook) = timed { engine.flush(timeout: 0.3) }
        #expect(flushed.pending == 9 && !flushed.completed)
        #expect(flushTook >= 0.29 && flushTook < 0.9, "flush took \(flushTook) s")

        let asyncStart = Clock.monotonicNanoseconds()
        let asyncFlushed = await engine.flush(timeout: 0.3)
        let asyncTook = Double(Clock.monotonicNanoseconds() - asyncStart) / 1e9
        #expect(asyncFlushed.pending == 9)
        // Looser: resuming also needs a free cooperative thread, which other suites' blocking
        // calls may hold for seconds (PermitScriptTests joins its threads for 6 s; on 2 cores
        // under TSan that held the pool past 5 s). Waiting for the held flush thread would
        // never end: the thread is held until the end of this test.
        #expect(asyncTook >= 0.29 && asyncTook < 20, "async flush took \(asyncTook) s")

        let (lookup, lookupTook) = timed { engine.userId(visitorId: "someone", timeout: 0.3) }
        #expect(lookup == .failure(.timeout))
        #expect(lookupTook < 0.9, "user id took \(lookupTook) s")

        let (stopped, shutdownTook) = timed { engine.shutdown(timeout: 0.3) }
        #expect(stopped.pending == 9, "the ones the stuck thread still holds")
        #expect(shutdownTook >= 0.29 && shutdownTook < 0.9, "shutdown took \(shutdownTook) s")
        let (again, againTook) = timed { engine.shutdown(timeout: 5) }
        #expect(again.pending == 9 && againTook < 0.1, "a second shutdown does not wait for the given-up thread again")

        // Let go: the thread finishes on its own, dropping (and reporting) what it held.
        held.unlock()
        #expect(waitUntil(timeout: 5) { deliveries.count == 10 })
        #expect(deliveries.all.filter { $0.outcome == .dropped }.count == 9)
        #expect(engine.stats.dropped == 9)
    }

    @Test("a stuck thread is given up on by flush and shutdown also when it holds the calls in the intake")
    func heldWithCallsInTheIntake() throws {
        let held = ConditionLock()
        held.lock()
        let entered = Atomic<Int>(0)
        let engine = try makeEngine(FakeTransport()) { configuration in
            configuration.maxInFlight = 1
            configuration.onDelivery = { _ in
                if entered.wrappingAdd(1, ordering: .relaxed).oldValue == 0 { held.withLock {} }
            }
        }
        try engine.enqueue(.track, identity: .visitorId("first"), body: trackBody(0))
        #expect(waitUntil(timeout: 5) { entered.load(ordering: .relaxed) == 1 })
        // Queued while the thread is stuck: they wait in the intake, which nobody drains.
        for n in 1...4 { try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: trackBody(n)) }
        #expect(engine.flush(timeout: 0.2).pending == 4)
        #expect(engine.shutdown(timeout: 0.2).pending == 4)
        held.unlock()
        #expect(waitUntil(timeout: 5) { engine.stats.dropped == 4 })
    }
}
