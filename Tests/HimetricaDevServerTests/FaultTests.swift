#if DevServer  // a package trait (Package.swift)
import Testing

@testable import HimetricaDevServer

/// Fault injection: each mode, replay by seed, and that `/_dev/*` is never faulted.
@Suite struct FaultTests {
    static let body = #"{"visitorId":"v","eventName":"x"}"#

    @Test func latency() async throws {
        // A long delay, so that "not delayed" below can be told apart on a busy machine too.
        try await withServer({ $0.faults.latencyMs = LatencyRange(min: 1200, max: 1200) }) { client in
            let start = ContinuousClock.now
            #expect(try await client.track(Self.body).status == 202)
            #expect(ContinuousClock.now - start >= .milliseconds(1200))
            // /_dev is never delayed.
            let quick = ContinuousClock.now
            _ = try await client.send(.get, "/_dev/stats", key: nil)
            #expect(ContinuousClock.now - quick < .milliseconds(1200))
            #expect(try await client.requests().first?["fault"] == .string("latency"))
        }
    }

    /// The statuses of `count` tracks, sent one after another.
    static func statuses(_ client: DevClient, count: Int) async throws -> [Int] {
        var statuses: [Int] = []
        for _ in 0..<count { statuses.append(try await client.track(body).status) }
        return statuses
    }

    @Test func errorShareReplaysWithSeed() async throws {
        try await withServer({ $0.faults.errorRate = 0.5; $0.faults.errorStatus = 502; $0.faults.seed = 7 }) { client in
            let first = try await Self.statuses(client, count: 20)
            #expect(Set(first) == [202, 502])
            #expect(first.filter { $0 == 502 }.count >= 4 && first.filter { $0 == 502 }.count <= 16)
            #expect(try await client.events().count == first.filter { $0 == 202 }.count)
            // The same seed replays the same sequence; another seed gives another.
            try await client.setFaults(#"{"errorRate":0.5,"errorStatus":502,"seed":7}"#)
            #expect(try await Self.statuses(client, count: 20) == first)
            try await client.setFaults(#"{"errorRate":0.5,"errorStatus":502,"seed":8}"#)
            #expect(try await Self.statuses(client, count: 20) != first)
            let error = try await client.track(Self.body)
            if error.status == 502 { #expect(error.error == "Bad gateway") }
        }
    }

    @Test func throttle() async throws {
        try await withServer({ $0.faults.throttleRate = 1; $0.faults.retryAfter = 2 }) { client in
            let answer = try await client.track(Self.body)
            #expect(answer.status == 429)
            #expect(answer.error == "Rate limit exceeded")
            #expect(answer.header("Retry-After") == "2")
            #expect(try await client.events().isEmpty)
            #expect(try await client.requests().first?["fault"] == .string("throttle"))
        }
    }

    @Test func drop() async throws {
        try await withServer({ $0.faults.dropRate = 1 }) { client in
            guard case .noAnswer = try await client.outcome(.post, "/api/v1/track", body: Self.body) else {
                Issue.record("expected the connection to close without an answer")
                return
            }
            let record = try await client.requests().first
            #expect(record?["status"] == .null)
            #expect(record?["fault"] == .string("drop"))
            #expect(try await client.events().isEmpty)
        }
    }

    @Test func downAtStartThenUp() async throws {
        // Down from server start (long, so a busy machine still sends inside the outage).
        try await withServer({ $0.faults.downForSeconds = 30 }) { client in
            let outcome = try await client.outcome(.post, "/api/v1/track", body: Self.body)
            guard case .noAnswer = outcome else {
                Issue.record("expected no answer while down, got \(outcome)")
                return
            }
            // Inspection keeps working while the API is down.
            let faults = try await client.send(.get, "/_dev/faults", key: nil)
            #expect(faults.status == 200)
            #expect((faults.json?["downRemainingSeconds"]?.doubleValue ?? 0) > 0)
            // Down again for 2 s from now, through the admin API; up once that has passed.
            try await client.setFaults(#"{"downForSeconds":2}"#)
            let remaining = try await client.send(.get, "/_dev/faults", key: nil).json?["downRemainingSeconds"]?.doubleValue ?? 0
            let asked = ContinuousClock.now  // after the answer: the outage ends at most `remaining` from here
            #expect(remaining > 0 && remaining <= 2)
            guard case .noAnswer = try await client.outcome(.get, "/api/v1/user-id?visitorId=v") else {
                Issue.record("expected no answer while down")
                return
            }
            try await Task.sleep(until: asked + .milliseconds(Int64(remaining * 1000) + 100))
            #expect(try await client.track(Self.body).status == 202)
            #expect(try await client.requests().map { $0["fault"] } == [.string("down"), .string("down"), .null])
        }
    }

    @Test func hangUntilClientGivesUp() async throws {
        try await withServer({ $0.faults.hang = true }) { client in
            let start = ContinuousClock.now
            guard case .timedOut = try await client.outcome(.post, "/api/v1/track", body: Self.body, timeout: .milliseconds(300)) else {
                Issue.record("expected the request to hang")
                return
            }
            #expect(ContinuousClock.now - start >= .milliseconds(300))
            #expect(try await client.requests().first?["fault"] == .string("hang"))
        }
    }

    @Test func faultSettingsRoundTrip() async throws {
        try await withServer { client in
            let put = try await client.send(.put, "/_dev/faults", key: nil,
                body: #"{"latencyMs":[5,10],"errorRate":0.25,"errorStatus":500,"throttleRate":0.1,"retryAfter":3,"dropRate":0.05,"hang":false,"seed":42}"#)
            #expect(put.status == 200)
            let got = try await client.send(.get, "/_dev/faults", key: nil).json
            #expect(got?["latencyMs"] == .array([.number("5"), .number("10")]))
            #expect(got?["errorStatus"] == .number("500"))
            #expect(got?["seed"] == .number("42"))
            #expect(got?["dropRate"] == .number("0.05"))
            for bad in [#"{"errorRate":2}"#, #"{"errorStatus":404}"#, #"{"latencyMs":[10,5]}"#, #"{"hang":"yes"}"#, "[]"] {
                #expect(try await client.send(.put, "/_dev/faults", key: nil, body: bad).status == 400, "\(bad)")
            }
        }
    }

    @Test func sameSeedSameDecisions() {
        var settings = FaultSettings()
        settings.dropRate = 0.2
        settings.throttleRate = 0.2
        settings.errorRate = 0.2
        settings.latencyMs = LatencyRange(min: 1, max: 50)
        let a = FaultInjector(settings: settings, clock: ServerClock())
        let b = FaultInjector(settings: settings, clock: ServerClock())
        let first = (0..<200).map { _ in a.decide() }
        #expect(first == (0..<200).map { _ in b.decide() })
        #expect(Set(first.map { "\($0)".prefix(4) }).count >= 4)
    }
}
#endif
