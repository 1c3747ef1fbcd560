import HimetricaRules
import HimetricaTestSupport
import Logging
import Synchronization
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func engine(
    _ transport: FakeTransport, _ lines: LogLines, _ modify: (inout Configuration) -> Void = { _ in }
) throws -> Engine {
    let configuration = unlimitedConfiguration {
        $0.endpoint = "http://127.0.0.1:9/api/v1"
        $0.logger = lines.logger
        modify(&$0)
    }
    return try Engine(configuration: configuration, clock: Clock()) { transport }
}

@Suite("Repeating log lines")
struct RepeatedLogLineTests {
    @Test("one line per interval, each telling how many were held back since the last")
    func policy() {
        let line = RepeatedLogLine(interval: 5 * sec)
        #expect(line.admit(now: 1 * sec) == 0)
        #expect(line.admit(now: 1 * sec) == nil)
        #expect(line.admit(now: 3 * sec) == nil)
        #expect(line.admit(now: 6 * sec - 1) == nil)
        #expect(line.admit(now: 6 * sec) == 3)
        #expect(line.admit(now: 7 * sec) == nil)
        #expect(line.admit(now: 60 * sec) == 1, "a quiet spell lets the next line through at once")
        #expect(line.admit(now: 60 * sec) == nil)
    }

    @Test("from many threads at once: one line, and every occurrence counted once")
    func concurrent() {
        let line = RepeatedLogLine(interval: 5 * sec)
        let lines = Atomic<Int>(0), reported = Atomic<UInt64>(0)
        let threads = (0..<4).map { _ in
            TestThread {
                for _ in 0..<10_000 {
                    if let heldBack = line.admit(now: 1 * sec) {
                        lines.wrappingAdd(1, ordering: .relaxed)
                        reported.wrappingAdd(heldBack + 1, ordering: .relaxed)
                    }
                }
            }
        }
        threads.forEach { $0.start() }
        threads.forEach { $0.join() }
        #expect(lines.load(ordering: .relaxed) == 1)
        // The next line reports everything held back meanwhile.
        reported.wrappingAdd((line.admit(now: 10 * sec) ?? 0) + 1, ordering: .relaxed)
        #expect(reported.load(ordering: .relaxed) == 40_001)
    }

    @Test("note wording")
    func note() {
        #expect(RepeatedLogLine.note(0, "calls refused") == "")
        #expect(RepeatedLogLine.note(7, "calls refused") == " (7 more calls refused since the last such line)")
    }
}

@Suite("Engine log lines", .timeLimit(.minutes(1)))
struct EngineLogLineTests {
    @Test("a full queue that drains a little and fills again warns once, not once per refill")
    func queueFullOnce() throws {
        let transport = FakeTransport()
        transport.hold()
        let lines = LogLines()
        let engine = try engine(transport, lines) { $0.queueCapacity = 4; $0.maxInFlight = 1 }
        var refused = 0
        for round in 0..<20 {
            for i in 0..<1000 {
                do throws(HimetricaError) {
                    try engine.enqueue(.track, identity: .visitorId("v\(i % 8)"), body: body("{\"n\":\(round)}"))
                } catch {
                    refused += 1
                }
            }
            // A little room: the one request in flight is answered, so the next can go.
            transport.release()
            transport.hold()
            _ = waitUntil(timeout: 1) { engine.stats.queueDepth + engine.stats.inFlight < 4 }
        }
        #expect(refused > 19_000)
        #expect(engine.stats.dropped == UInt64(refused))
        #expect(lines.starting(with: "queue full") == ["queue full (4 requests); calls are refused until it drains"])
        transport.release()
        engine.shutdown(timeout: 1)
    }

    @Test("a server rejecting every request: one rejection line per interval")
    func rejectedOnce() throws {
        let transport = FakeTransport { _ in TransportResponse(status: 400, body: Array("{\"error\":\"bad\"}".utf8)) }
        let lines = LogLines()
        let engine = try engine(transport, lines)
        for i in 0..<200 { try engine.enqueue(.track, identity: .visitorId("v\(i)"), body: body("{}")) }
        #expect(engine.flush(timeout: 5).pending == 0)
        #expect(engine.stats.rejected == 200)
        #expect(lines.starting(with: "track rejected").count == 1)
        engine.shutdown(timeout: 1)
    }

    @Test("requests left at shutdown: one line with their number and the shutdown's timeout")
    func undeliveredAtShutdown() throws {
        let transport = FakeTransport { _ in nil }  // never answers
        let lines = LogLines()
        let engine = try engine(transport, lines) { $0.maxInFlight = 2 }
        for i in 0..<30 { try engine.enqueue(.track, identity: .visitorId("v\(i)"), body: body("{}")) }
        #expect(engine.shutdown(timeout: 0.2).pending == 30)
        #expect(
            lines.messages.filter { $0.contains("not delivered") } == [
                "30 requests were not delivered before shutdown (timeout 0.2 s); set the spool option to keep them across restarts"
            ])
        engine.shutdown(timeout: 1)
        #expect(lines.messages.filter { $0.contains("not delivered") }.count == 1, "a second shutdown adds no line")
    }

    @Test("requests left at exit: the line names the exit and exit_flush_timeout")
    func undeliveredAtExit() throws {
        let transport = FakeTransport { _ in nil }
        let lines = LogLines()
        let engine = try engine(transport, lines) { $0.exitFlushTimeout = .milliseconds(100) }
        try engine.enqueue(.track, identity: .visitorId("v"), body: body("{}"))
        #expect(engine.shutdownAtExit().pending == 1)
        #expect(
            lines.messages.filter { $0.contains("not delivered") } == [
                "1 request was not delivered before exit (exit_flush_timeout 0.1 s); set the spool option to keep them across restarts"
            ])
    }

    @Test("nothing left: no line")
    func nothingLeft() throws {
        let transport = FakeTransport()
        let lines = LogLines()
        let engine = try engine(transport, lines)
        try engine.enqueue(.track, identity: .visitorId("v"), body: body("{}"))
        #expect(engine.shutdownAtExit().pending == 0)
        #expect(!lines.messages.contains { $0.contains("not delivered") })
    }

    @Test("a lookup made after an earlier one for the visitor timed out joins the request still in flight")
    func lookupJoinsAfterTimeout() throws {
        let transport = FakeTransport { _ in TransportResponse(status: 200, body: Array("{\"userId\":\"hm_usr_7\"}".utf8)) }
        transport.hold()
        let engine = try engine(transport, LogLines())
        let first = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "slow", timeout: 0.1) { first.set($0) }
        #expect(first.wait(timeout: 3) == .failure(.timeout))
        #expect(transport.started.count == 1)
        let second = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "slow", timeout: 5) { second.set($0) }
        usleep(50_000)
        #expect(transport.started.count == 1, "no second request while the first is in flight")
        transport.release()
        #expect(second.wait(timeout: 3) == .success("hm_usr_7"))
        #expect(transport.started.count == 1)
        // Once answered, the visitor has no pending request: the cache answers.
        let third = Slot<Result<String, HimetricaError>>()
        engine.lookupUserId(visitorId: "slow", timeout: 5) { third.set($0) }
        #expect(third.current == .success("hm_usr_7"))
        engine.shutdown(timeout: 1)
    }
}
