#if DevServer  // a package trait (Package.swift)
import Testing

@testable import HimetricaDevServer

/// The per-key, per-endpoint sliding window and its headers.
@Suite struct RateLimitTests {
    @Test func windowRefusesThenAdmits() async throws {
        // A 3 s window: the four requests below fit in it even on a loaded machine.
        try await withServer({ $0.limits = [.track: RateLimit(count: 3, seconds: 3)] }) { client in
            let body = #"{"visitorId":"v","eventName":"x"}"#
            var firstAnswered = ContinuousClock.now
            for remaining in [2, 1, 0] {
                let answer = try await client.track(body)
                if remaining == 2 { firstAnswered = ContinuousClock.now }
                #expect(answer.status == 202)
                #expect(answer.header("X-RateLimit-Limit") == "3")
                #expect(answer.header("X-RateLimit-Remaining") == String(remaining))
                #expect(answer.header("X-RateLimit-Reset").flatMap(Int.init) != nil)
            }
            let refused = try await client.track(body)
            #expect(refused.status == 429)
            #expect(refused.error == "Rate limit exceeded")
            // Whole seconds, rounded up, until the first slot frees: 3 unless the machine was slow.
            #expect(refused.header("Retry-After").flatMap(Int.init).map { (1...3).contains($0) } == true)
            #expect(refused.header("X-RateLimit-Remaining") == "0")
            // A refused request does not take a slot: once the first slot frees, one more fits.
            try await Task.sleep(until: firstAnswered + .milliseconds(3050))
            #expect(try await client.track(body).status == 202)
            // Other endpoints and keys have their own windows.
            #expect(try await client.send(.get, "/api/v1/user-id?visitorId=v").status == 200)
            // However the requests were spaced, no 3 s window holds more than 3 accepted events.
            let times = try await client.events().compactMap { $0["receivedAt"]?.doubleValue }
            #expect(times.count == 4)
            for i in 0..<(times.count - 3) { #expect(times[i + 3] - times[i] >= 3000) }
            let stats = try await client.send(.get, "/_dev/stats", key: nil).json
            #expect(stats?["endpoints", "track", "429"] == .number("1"))
        }
    }

    @Test func limitsCanBeReplacedAtRunTime() async throws {
        try await withServer { client in
            let defaults = try await client.send(.get, "/_dev/limits", key: nil).json
            #expect(defaults?["track", "count"] == .number("1000"))
            #expect(defaults?["user-id", "count"] == .number("100"))
            let put = try await client.send(.put, "/_dev/limits", key: nil, body: #"{"identify":{"count":1,"seconds":30},"track":null}"#)
            #expect(put.status == 200)
            #expect(put.json?["track"] == .null)
            #expect(put.json?["user-id"] == .null)
            #expect(try await client.identify(#"{"visitorId":"v","traits":{}}"#).status == 200)
            let refused = try await client.identify(#"{"visitorId":"v","traits":{}}"#)
            #expect(refused.status == 429)
            let retry = Int(refused.header("Retry-After") ?? "") ?? 0
            #expect((29...30).contains(retry))
            let track = try await client.track(#"{"visitorId":"v","eventName":"x"}"#)
            #expect(track.status == 202)
            #expect(track.header("X-RateLimit-Limit") == nil)
            let bad = try await client.send(.put, "/_dev/limits", key: nil, body: #"{"track":{"count":0,"seconds":1}}"#)
            #expect(bad.status == 400)
        }
    }

    @Test func limitSpecsParse() {
        #expect(RateLimit(spec: "20/2") == RateLimit(count: 20, seconds: 2))
        #expect(RateLimit(spec: "3/0.5") == RateLimit(count: 3, seconds: 0.5))
        #expect(RateLimit(spec: "0/1") == nil)
        #expect(RateLimit(spec: "20") == nil)
        #expect(LatencyRange(spec: "100") == LatencyRange(min: 100, max: 100))
        #expect(LatencyRange(spec: "50-150") == LatencyRange(min: 50, max: 150))
        #expect(LatencyRange(spec: "150-50") == nil)
    }
}
#endif
