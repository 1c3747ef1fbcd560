#if DevServer  // a package trait (Package.swift)
import Testing

@testable import HimetricaDevServer

/// `/_dev/*` and the live page.
@Suite struct InspectionTests {
    @Test func eventsRequestsStatsAndReset() async throws {
        try await withServer { client in
            let raw = #"{ "visitorId": "v", "eventName": "signup", "properties": {"b": 2, "a": 1.50} }"#
            #expect(try await client.track(raw).status == 202)
            #expect(try await client.identify(#"{"visitorId":"v","traits":{"name":"Jane"}}"#).status == 200)
            #expect(try await client.track(#"{"visitorId":"v"}"#).status == 400)
            #expect(try await client.send(.get, "/nowhere").status == 404)
            #expect(try await client.send(.post, "/api/v1/other").status == 404)

            let events = try await client.events()
            #expect(events.count == 2)
            let first = events[0]
            #expect(first["seq"] == .number("1"))
            #expect(first["endpoint"] == .string("track"))
            #expect(first["key"] == .string("hm_sk_…0000"))
            // The body is the request's JSON as received: member order and number text kept.
            #expect(first["body"] == JSONValue.parse(raw))
            #expect(first["visitorId"] == .string("v"))
            #expect(first["userId"]?.stringValue?.hasPrefix("hm_usr_") == true)
            #expect((first["receivedAt"]?.doubleValue ?? 0) > 1.7e12)
            #expect(events[1]["endpoint"] == .string("identify"))
            #expect(try await client.events(after: 1).map { $0["seq"] } == [.number("2")])

            let requests = try await client.requests()
            #expect(requests.map { $0["endpoint"] } == [.string("track"), .string("identify"), .string("track"), .string("other")])
            #expect(requests.map { $0["status"] } == [.number("202"), .number("200"), .number("400"), .number("404")])
            #expect(requests.map { $0["method"] } == [.string("POST"), .string("POST"), .string("POST"), .string("POST")])
            #expect(try await client.requests(after: 3).count == 1)
            #expect(try await client.send(.get, "/_dev/events?after=x", key: nil).status == 400)

            let stats = try await client.send(.get, "/_dev/stats", key: nil).json
            #expect(stats?["endpoints", "track", "202"] == .number("1"))
            #expect(stats?["endpoints", "track", "400"] == .number("1"))
            #expect(stats?["endpoints", "identify", "200"] == .number("1"))
            #expect(stats?["events"] == .number("2"))
            #expect(stats?["visitors"] == .number("1"))

            #expect(try await client.send(.post, "/_dev/reset", key: nil).status == 200)
            #expect(try await client.events().isEmpty)
            #expect(try await client.requests().isEmpty)
            let cleared = try await client.send(.get, "/_dev/stats", key: nil).json
            #expect(cleared?["visitors"] == .number("0"))
            #expect(cleared?["endpoints"] == .object([]))
            #expect(try await client.track(raw).status == 202)
            #expect(try await client.events().first?["seq"] == .number("1"))
        }
    }

    @Test func resetKeepsFaultsAndLimitsButClearsWindows() async throws {
        try await withServer({ $0.limits = [.track: RateLimit(count: 1, seconds: 60)] }) { client in
            #expect(try await client.track(#"{"visitorId":"v","eventName":"x"}"#).status == 202)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"x"}"#).status == 429)
            try await client.setFaults(#"{"latencyMs":[1,1]}"#)
            #expect(try await client.send(.post, "/_dev/reset", key: nil).status == 200)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"x"}"#).status == 202)
            #expect(try await client.send(.get, "/_dev/faults", key: nil).json?["latencyMs"] == .array([.number("1"), .number("1")]))
            #expect(try await client.send(.get, "/_dev/limits", key: nil).json?["track", "count"] == .number("1"))
        }
    }

    @Test func livePage() async throws {
        try await withServer { client in
            let page = try await client.send(.get, "/", key: nil)
            #expect(page.status == 200)
            #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.text.contains("/_dev/events?after="))
        }
    }

    @Test func loopbackDetection() {
        var options = DevServerOptions()
        #expect(options.isLoopback)
        for host in ["localhost", "::1", "127.0.0.2"] {
            options.host = host
            #expect(options.isLoopback, "\(host)")
        }
        for host in ["0.0.0.0", "192.168.1.5", "::"] {
            options.host = host
            #expect(!options.isLoopback, "\(host)")
        }
    }
}
#endif
