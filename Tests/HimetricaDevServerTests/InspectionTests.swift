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

    @Test func windowsShowAcceptedRequestsPerKeyInTheCurrentWindow() async throws {
        let (a, b) = ("hm_sk_windows_test_key_aaaa", "hm_sk_windows_test_key_bbbb")
        try await withServer({
            $0.keys = [a, b]
            $0.limits = [.track: RateLimit(count: 3, seconds: 60), .identify: RateLimit(count: 5, seconds: 0.5)]
        }) { client in
            let empty = try await client.send(.get, "/_dev/windows", key: nil).json
            #expect(empty?["track"] == JSONValue.parse(#"{"count":3,"seconds":60.0,"keys":[]}"#))
            #expect(empty?["user-id"] == .null)
            let body = #"{"visitorId":"v","eventName":"x"}"#
            // Four tracks with key a: three accepted, the fourth refused and not counted.
            for status in [202, 202, 202, 429] { #expect(try await client.track(body, key: a).status == status) }
            #expect(try await client.track(body, key: b).status == 202)
            #expect(try await client.identify(#"{"visitorId":"v","traits":{}}"#, key: b).status == 200)
            // The body is checked after the limiter: a 400 has taken a slot.
            #expect(try await client.track(#"{"visitorId":"v"}"#, key: b).status == 400)
            let windows = try await client.send(.get, "/_dev/windows", key: nil)
            #expect(windows.status == 200)
            #expect(windows.json?["track", "keys"] == JSONValue.parse(
                #"[{"key":"hm_sk_…aaaa","accepted":3},{"key":"hm_sk_…bbbb","accepted":2}]"#))
            #expect(windows.json?["identify", "keys"] == JSONValue.parse(#"[{"key":"hm_sk_…bbbb","accepted":1}]"#))
            #expect(windows.json?["identify", "seconds"] == .number("0.5"))
            #expect(!windows.text.contains(a) && !windows.text.contains(b))
            // Reading changes nothing; a request leaves the window once it is older than the window.
            #expect(try await client.send(.get, "/_dev/windows", key: nil).json?["track"] == windows.json?["track"])
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await client.send(.get, "/_dev/windows", key: nil).json?["identify", "keys"] == .array([]))
            #expect(try await client.send(.post, "/_dev/windows", key: nil).status == 405)
            // A reset empties the windows.
            #expect(try await client.send(.post, "/_dev/reset", key: nil).status == 200)
            #expect(try await client.send(.get, "/_dev/windows", key: nil).json?["track", "keys"] == .array([]))
        }
    }

    @Test func statsCountResets() async throws {
        try await withServer { client in
            let fresh = try await client.send(.get, "/_dev/stats", key: nil).json
            #expect(fresh?["resets"] == .number("0"))
            for _ in 0..<2 { #expect(try await client.send(.post, "/_dev/reset", key: nil).status == 200) }
            #expect(try await client.send(.get, "/_dev/stats", key: nil).json?["resets"] == .number("2"))
        }
    }

    @Test func livePage() async throws {
        try await withServer { client in
            let page = try await client.send(.get, "/", key: nil)
            #expect(page.status == 200)
            #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
            for path in ["/_dev/events?after=", "/_dev/requests?after=", "/_dev/stats", "/_dev/windows", "/_dev/faults"] {
                #expect(page.text.contains(path), "\(path)")
            }
            // Self-contained: nothing loaded from anywhere else (the one URL is SVG's namespace name).
            for external in ["src=", "href=", "@import", "url(", "//cdn", "https:"] {
                #expect(!page.text.contains(external), "\(external)")
            }
            #expect(page.text.ranges(of: "http://").count == 1)
            #expect(page.text.contains("http://www.w3.org/2000/svg"))
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
