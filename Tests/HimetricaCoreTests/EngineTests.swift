import HimetricaRules
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A transport that answers each started request on the next poll with a scripted response
/// (or never, when the script says nil). Thread-safe; its poll sleeps on a condition until an
/// answer is ready, a wakeup comes, or the timeout passes.
final class FakeTransport: Transport, @unchecked Sendable {
    private let lock = ConditionLock()
    private var answers: [(id: UInt64, response: TransportResponse)] = []
    private var requests: [OutgoingRequest] = []
    private var held: [OutgoingRequest] = []
    private var woken = false
    private var holding = false
    private let script: @Sendable (OutgoingRequest) -> TransportResponse?

    init(script: @escaping @Sendable (OutgoingRequest) -> TransportResponse? = { _ in TransportResponse(status: 202) }) {
        self.script = script
    }

    /// Every request started so far.
    var started: [OutgoingRequest] { lock.withLock { requests } }

    /// While holding, started requests get no answer until ``release()``.
    func hold() { lock.withLock { holding = true } }

    func release() {
        lock.withLock {
            holding = false
            for request in held {
                if let response = script(request) { answers.append((request.id, response)) }
            }
            held = []
            lock.broadcast()
        }
    }

    func start(_ request: OutgoingRequest) {
        lock.withLock {
            requests.append(request)
            if holding {
                held.append(request)
            } else if let response = script(request) {
                answers.append((request.id, response))
            }
        }
    }

    func poll(timeoutMilliseconds: Int32) -> [(id: UInt64, response: TransportResponse)] {
        let deadline = Clock.monotonicNanoseconds() + UInt64(max(timeoutMilliseconds, 0)) * ms
        lock.lock()
        defer { lock.unlock() }
        while answers.isEmpty, !woken, Clock.monotonicNanoseconds() < deadline {
            lock.wait(untilMonotonic: deadline)
        }
        woken = false
        defer { answers = [] }
        return answers
    }

    func wakeup() {
        lock.withLock {
            woken = true
            lock.broadcast()
        }
    }

    func cancelAll() { lock.withLock { answers = []; held = [] } }
    func abandonAfterFork() {}
}

/// A result slot a callback fills in, read with a deadline.
final class Slot<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    var current: Value? { lock.withLock { value } }

    func wait(timeout: Double) -> Value? {
        _ = waitUntil(timeout: timeout) { current != nil }
        return current
    }
}

func makeEngine(
    _ transport: FakeTransport, _ modify: (inout Configuration) -> Void = { _ in }
) throws -> Engine {
    let configuration = unlimitedConfiguration {
        $0.endpoint = "http://127.0.0.1:9/api/v1"
        $0.retryBaseDelay = .seconds(0.01)
        $0.retryMaxDelay = .seconds(0.02)
        modify(&$0)
    }
    return try Engine(configuration: configuration, clock: Clock()) { transport }
}

func trackBody(_ n: Int) -> [UInt8] { body("{\"eventName\":\"e\",\"n\":\(n)}") }

@Suite("Engine with a fake transport", .timeLimit(.minutes(1)))
struct EngineTests {
    @Test("enqueue then flush: everything delivered, pending 0, one callback each")
    func flushDelivers() throws {
        let deliveries = Recorder<Delivery>()
        let transport = FakeTransport()
        let engine = try makeEngine(transport) { configuration in
            configuration.onDelivery = { deliveries.append($0) }
        }
        for n in 0..<50 {
            try engine.enqueue(n % 5 == 0 ? .identify : .track, identity: .visitorId("v\(n % 7)"), body: trackBody(n))
        }
        let result = engine.flush(timeout: 5)
        #expect(result.pending == 0)
        #expect(result.completed)
        #expect(deliveries.count == 50)
        #expect(deliveries.all.allSatisfy { $0.outcome == .delivered && $0.status == 202 && $0.attempts == 1 })
        #expect(transport.started.count == 50)
        #expect(transport.started.allSatisfy { $0.url.hasPrefix("http://127.0.0.1:9/api/v1/") && $0.body != nil })
        #expect(transport.started.filter { $0.url.hasSuffix("/identify") }.count == 10)
        let stats = engine.stats
        #expect(stats.queued == 50 && stats.delivered == 50 && stats.inFlight == 0 && stats.queueDepth == 0)
        engine.shutdown(timeout: 1)
    }

    @Test("the callback sees each outcome: delivered, rejected, retried then delivered, gave up")
    func outcomes() throws {
        let deliveries = Recorder<Delivery>()
        let attempts = Recorder<String>()
        let transport = FakeTransport { request in
            let text = String(decoding: request.body ?? [], as: UTF8.self)
            attempts.append(text)
            switch text {
            case "ok": return TransportResponse(status: 202)
            case "bad": return TransportResponse(status: 400, body: Array("{\"error\":\"bad\"}".utf8))
            case "flaky": return attempts.all.filter { $0 == "flaky" }.count < 3 ? TransportResponse(status: 503) : TransportResponse(status: 200)
            default: return TransportResponse(status: 0, error: "connection refused")
            }
        }
        let engine = try makeEngine(transport) { configuration in
            configuration.maxAttempts = 4
            configuration.onDelivery = { deliveries.append($0) }
        }
        for (n, name) in ["ok", "bad", "flaky", "down"].enumerated() {
            try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: body(name))
        }
        #expect(engine.flush(timeout: 5).pending == 0)
        let byBody = Dictionary(uniqueKeysWithValues: deliveries.all.map { (text($0.body), $0) })
        #expect(byBody["ok"]?.outcome == .delivered)
        #expect(byBody["bad"]?.outcome == .rejected)
        #expect(byBody["bad"]?.status == 400)
        #expect(byBody["bad"]?.message == "HTTP 400: {\"error\":\"bad\"}")
        #expect(byBody["flaky"]?.outcome == .delivered)
        #expect(byBody["flaky"]?.attempts == 3)
        #expect(byBody["down"]?.outcome == .gaveUp)
        #expect(byBody["down"]?.attempts == 4)
        #expect(byBody["down"]?.message == "connection refused")
        #expect(attempts.all.filter { $0 == "bad" }.count == 1, "a 400 is never retried")
        let stats = engine.stats
        #expect(stats.delivered == 2 && stats.rejected == 1 && stats.gaveUp == 1 && stats.retried == 5)
        engine.shutdown(timeout: 1)
    }

    @Test("a slow callback does not break delivery or flush")
    func slowCallback() throws {
        let deliveries = Recorder<Delivery>()
        let box = Slot<Engine>()
        let transport = FakeTransport()
        let engine = try makeEngine(transport) { configuration in
            configuration.onDelivery = { delivery in
                usleep(20_000)
                _ = box.current?.stats  // calling back into the engine must not deadlock
                deliveries.append(delivery)
            }
        }
        box.set(engine)
        for n in 0..<20 { try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: trackBody(n)) }
        let result = engine.flush(timeout: 10)
        #expect(result.pending == 0)
        #expect(deliveries.count == 20)
        // Still working afterwards.
        try engine.enqueue(.track, identity: .visitorId("late"), body: trackBody(99))
        #expect(engine.flush(timeout: 5).pending == 0)
        #expect(deliveries.count == 21)
        engine.shutdown(timeout: 1)
    }

    @Test("shutdown twice is safe; the second returns at once; later calls throw shutDown")
    func doubleShutdown() throws {
        let transport = FakeTransport()
        let engine = try makeEngine(transport)
        for n in 0..<5 { try engine.enqueue(.track, identity: .visitorId("v"), body: trackBody(n)) }
        let first = engine.shutdown(timeout: 5)
        #expect(first.pending == 0)
        #expect(engine.stats.delivered == 5)
        let (second, elapsed) = timed { engine.shutdown(timeout: 5) }
        #expect(second.pending == 0)
        #expect(elapsed < 0.1)
        #expect(throws: HimetricaError.shutDown) {
            try engine.enqueue(.track, identity: .visitorId("v"), body: trackBody(0))
        }
        let lookup = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "v", timeout: 1) { lookup.set($0) }
        #expect(lookup.wait(timeout: 1) == .failure(.shutDown))
        #expect(engine.flush(timeout: 1).pending == 0)
        engine.close()
    }

    @Test("shutdown of an engine that never sent anything")
    func shutdownUnused() throws {
        let engine = try makeEngine(FakeTransport())
        #expect(engine.shutdown(timeout: 1).pending == 0)
        #expect(engine.shutdown(timeout: 1).pending == 0)
        #expect(throws: HimetricaError.shutDown) {
            try engine.enqueue(.identify, identity: .email("a@b.c"), body: body("{}"))
        }
    }

    @Test("flush against a server that never answers returns by its deadline with pending > 0")
    func flushTimeout() throws {
        let transport = FakeTransport { _ in nil }
        let engine = try makeEngine(transport)
        for n in 0..<3 { try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: trackBody(n)) }
        let (result, elapsed) = timed { engine.flush(timeout: 0.5) }
        #expect(result.pending == 3)
        #expect(!result.completed)
        #expect(elapsed >= 0.45 && elapsed < 1.0, "took \(elapsed) s")
        engine.shutdown(timeout: 0.1)
    }

    @Test("shutdown against a server that never answers returns by its deadline, reporting the pending as dropped")
    func shutdownTimeout() throws {
        let deliveries = Recorder<Delivery>()
        let transport = FakeTransport { _ in nil }
        let engine = try makeEngine(transport) { configuration in
            configuration.maxInFlight = 2
            configuration.onDelivery = { deliveries.append($0) }
        }
        for n in 0..<5 { try engine.enqueue(.track, identity: .visitorId("v\(n % 3)"), body: trackBody(n)) }
        #expect(waitUntil(timeout: 2) { transport.started.count == 2 })
        let (result, elapsed) = timed { engine.shutdown(timeout: 0.4) }
        #expect(elapsed < 1.0, "took \(elapsed) s")
        #expect(result.pending == 5)
        #expect(engine.stats.dropped == 5)
        #expect(engine.stats.inFlight == 0 && engine.stats.queueDepth == 0)
        #expect(deliveries.count == 5)
        #expect(deliveries.all.allSatisfy { $0.outcome == .dropped })
        #expect(engine.shutdown(timeout: 1).pending == 0)
    }

    @Test("a full queue is an error to the caller and a counter")
    func queueFull() throws {
        let transport = FakeTransport { _ in nil }
        let engine = try makeEngine(transport) { $0.queueCapacity = 3 }
        for n in 0..<3 { try engine.enqueue(.track, identity: .visitorId("v"), body: trackBody(n)) }
        #expect(throws: HimetricaError.queueFull) {
            try engine.enqueue(.track, identity: .visitorId("v"), body: trackBody(3))
        }
        #expect(engine.stats.queued == 4)
        #expect(engine.stats.dropped == 1)
        #expect(engine.shutdown(timeout: 0.1).pending == 3)
        #expect(engine.stats.dropped == 4)
    }

    @Test("requests in flight count against the capacity; an outcome frees a place; refused calls never leave")
    func capacityCountsInFlight() throws {
        let transport = FakeTransport()
        transport.hold()
        let engine = try makeEngine(transport) { $0.queueCapacity = 5; $0.maxInFlight = 2 }
        for n in 0..<5 { try engine.enqueue(.track, identity: .visitorId("v\(n)"), body: trackBody(n)) }
        #expect(waitUntil(timeout: 2) { transport.started.count == 2 })
        #expect(throws: HimetricaError.queueFull) {
            try engine.enqueue(.identify, identity: .visitorId("x"), body: trackBody(100))
        }
        #expect(engine.stats.queued == 6 && engine.stats.dropped == 1)
        #expect(engine.stats.inFlight == 2 && engine.stats.queueDepth == 3)
        transport.release()
        #expect(engine.flush(timeout: 2).completed)
        try engine.enqueue(.identify, identity: .visitorId("y"), body: trackBody(101))
        #expect(engine.flush(timeout: 2).completed)
        let sent = transport.started.map { String(decoding: $0.body ?? [], as: UTF8.self) }
        #expect(sent.sorted() == [0, 1, 2, 3, 4, 101].map { String(decoding: trackBody($0), as: UTF8.self) }.sorted())
        #expect(engine.stats.delivered == 6 && engine.stats.dropped == 1 && engine.stats.queued == 7)
    }

    @Test("a thread gets the places other threads hold but do not use: full means full")
    func capacityAcrossThreads() throws {
        let transport = FakeTransport()
        transport.hold()
        let engine = try makeEngine(transport) { $0.queueCapacity = 4096; $0.maxInFlight = 1 }
        // One call from another thread: its shard takes a batch of places and uses one.
        let other = TestThread { try? engine.enqueue(.track, identity: .visitorId("other"), body: trackBody(-1)) }
        other.start()
        other.join()
        for n in 0..<4095 { try engine.enqueue(.track, identity: .visitorId("v\(n % 50)"), body: trackBody(n)) }
        #expect(throws: HimetricaError.queueFull) {
            try engine.enqueue(.track, identity: .visitorId("v"), body: trackBody(5000))
        }
        #expect(engine.stats.queued == 4097 && engine.stats.dropped == 1)
        transport.release()
        #expect(engine.flush(timeout: 10).completed)
        #expect(engine.stats.delivered == 4096)
        // Delivered requests free their places again.
        try engine.enqueue(.track, identity: .visitorId("v"), body: trackBody(5001))
    }

    @Test("calls from several threads keep per-identity order across threads")
    func orderAcrossThreads() throws {
        let transport = FakeTransport()
        let engine = try makeEngine(transport) { $0.maxInFlight = 8; $0.queueCapacity = 100_000 }
        // Each visitor's calls alternate between two threads, handing over through a lock, so
        // call n happens before call n + 1 although they come from different threads.
        let turn = ConditionLock()
        let counter = Counter()
        let total = 2_000
        let threads = (0..<2).map { me in
            TestThread {
                while true {
                    turn.lock()
                    let n = counter.value
                    if n >= total { turn.unlock(); return }
                    if n % 2 != me {
                        turn.wait(untilMonotonic: Clock.monotonicNanoseconds() + 10 * ms)
                        turn.unlock()
                        continue
                    }
                    try? engine.enqueue(.track, identity: .visitorId("v\(n / 10 % 5)"), body: trackBody(n))
                    counter.value = n + 1
                    turn.broadcast()
                    turn.unlock()
                }
            }
        }
        threads.forEach { $0.start() }
        threads.forEach { $0.join() }
        #expect(engine.flush(timeout: 10).completed)
        var lastPerVisitor: [Int: Int] = [:]
        var count = 0
        for request in transport.started {
            let text = String(decoding: request.body ?? [], as: UTF8.self)
            guard let n = Int(text.split(separator: ":").last!.dropLast()) else { continue }
            let visitor = n / 10 % 5
            #expect(n > lastPerVisitor[visitor, default: -1], "visitor \(visitor): \(n) after \(lastPerVisitor[visitor, default: -1])")
            lastPerVisitor[visitor] = n
            count += 1
        }
        #expect(count == total)
    }

    @Test("concurrent lookups of one visitor share one request; the answer is cached")
    func lookupCoalesced() throws {
        let transport = FakeTransport { request in
            TransportResponse(status: 200, body: Array("{\"userId\": \"hm_usr_42\"}".utf8))
        }
        transport.hold()
        let engine = try makeEngine(transport)
        let results = Recorder<Result<String, HimetricaError>>()
        let threads = (0..<8).map { _ in
            TestThread { engine.lookupUserId(visitorId: "visitor 1", timeout: 5) { results.append($0) } }
        }
        threads.forEach { $0.start() }
        threads.forEach { $0.join() }
        #expect(waitUntil(timeout: 2) { transport.started.count == 1 })
        usleep(20_000)
        #expect(transport.started.count == 1)
        #expect(transport.started.first?.url == "http://127.0.0.1:9/api/v1/user-id?visitorId=visitor%201")
        #expect(transport.started.first?.body == nil)
        transport.release()
        #expect(waitUntil(timeout: 2) { results.count == 8 })
        #expect(results.all.allSatisfy { $0 == .success("hm_usr_42") })
        // Second call: from the cache, no request, answered before lookupUserId returns.
        let cached = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "visitor 1", timeout: 5) { cached.set($0) }
        #expect(cached.current == .success("hm_usr_42"))
        #expect(transport.started.count == 1)
        engine.shutdown(timeout: 1)
    }

    @Test("a 404 lookup is .notFound and cached briefly")
    func lookupNotFound() throws {
        let transport = FakeTransport { _ in TransportResponse(status: 404) }
        let engine = try makeEngine(transport) { $0.notFoundCacheDuration = .seconds(60) }
        let first = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "ghost", timeout: 5) { first.set($0) }
        #expect(first.wait(timeout: 5) == .failure(.notFound))
        let second = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "ghost", timeout: 5) { second.set($0) }
        #expect(second.current == .failure(.notFound))
        #expect(transport.started.count == 1)
        engine.shutdown(timeout: 1)
    }

    @Test("an invalid visitor id is refused without a request")
    func lookupInvalid() throws {
        let transport = FakeTransport()
        let engine = try makeEngine(transport)
        let result = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "bad\nid", timeout: 1) { result.set($0) }
        guard case .failure(.invalid(let error)) = result.current else {
            Issue.record("expected .invalid, got \(String(describing: result.current))")
            return
        }
        #expect(error.field == "visitorId")
        #expect(transport.started.isEmpty)
        engine.shutdown(timeout: 1)
    }

    @Test("a lookup times out with .timeout when no answer comes")
    func lookupTimeout() throws {
        let transport = FakeTransport { _ in nil }
        let engine = try makeEngine(transport)
        let result = Slot<Result<String, HimetricaError>>()
        let (value, elapsed) = timed { () -> Result<String, HimetricaError>? in
            engine.lookupUserId(visitorId: "slow", timeout: 0.3) { result.set($0) }
            return result.wait(timeout: 3)
        }
        #expect(value == .failure(.timeout))
        #expect(elapsed >= 0.25 && elapsed < 1.0, "took \(elapsed) s")
        engine.shutdown(timeout: 0.1)
    }

    @Test("identify then track for one email reach the transport in that order, even when the identify is retried")
    func identifyThenTrackOrdered() throws {
        let order = Recorder<String>()
        let identifyAttempts = Recorder<Int>()
        let transport = FakeTransport { request in
            let path = request.url.hasSuffix("/identify") ? "identify" : "track"
            order.append(path)
            if path == "identify" {
                identifyAttempts.append(1)
                if identifyAttempts.count < 3 { return TransportResponse(status: 503) }
            }
            return TransportResponse(status: 202)
        }
        let engine = try makeEngine(transport)
        try engine.enqueue(.identify, identity: .email("ada@example.com"), body: body("{\"traits\":{}}"))
        try engine.enqueue(.track, identity: .email("ada@example.com"), body: body("{\"eventName\":\"x\"}"))
        #expect(engine.flush(timeout: 5).pending == 0)
        #expect(order.all == ["identify", "identify", "identify", "track"])
        engine.shutdown(timeout: 1)
    }
}

/// A minimal joinable thread (no Foundation in this target's dependencies).
/// A number shared by test threads under a lock of the test's own.
final class Counter: @unchecked Sendable {
    var value = 0
}

final class TestThread: @unchecked Sendable {
    private let body: @Sendable () -> Void
    private var id = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&id, nil, { context in
            let thread = Unmanaged<TestThread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
    }

    func join() { pthread_join(id, nil) }
}
