#if DevServer  // a package trait (Package.swift)
import HTTPTypes
import Hummingbird
import Testing

@testable import HimetricaDevServer

/// Every documented request rule, accepted and rejected, over real HTTP.
@Suite struct ValidationTests {
    /// Track bodies that break a rule, with the 400 message each must get.
    static let badTracks: [(String, String)] = [
        ("not json", "body must be valid JSON"),
        ("[1,2]", "body must be a JSON object"),
        (#"{"eventName":"x"}"#, "exactly one of userId, email, visitorId is required"),
        (#"{"visitorId":"v","email":"a@b.c","eventName":"x"}"#, "exactly one of userId, email, visitorId is required"),
        (#"{"visitorId":"","eventName":"x"}"#, "visitorId must be a non-empty string"),
        (#"{"userId":42,"eventName":"x"}"#, "userId must be a non-empty string"),
        (#"{"email":true,"eventName":"x"}"#, "email must be a non-empty string"),
        (#"{"visitorId":"v"}"#, "eventName is required"),
        (#"{"visitorId":"v","eventName":""}"#, "eventName must be a non-empty string"),
        (#"{"visitorId":"v","eventName":7}"#, "eventName must be a non-empty string"),
        (#"{"visitorId":"v","eventName":"has space"}"#, "eventName may contain only letters, digits, underscores and hyphens"),
        (#"{"visitorId":"v","eventName":"dot.ted"}"#, "eventName may contain only letters, digits, underscores and hyphens"),
        (#"{"visitorId":"v","eventName":"é"}"#, "eventName may contain only letters, digits, underscores and hyphens"),
        (#"{"visitorId":"v","eventName":"x","properties":[1]}"#, "properties must be a JSON object"),
        (#"{"visitorId":"v","eventName":"x","properties":"a"}"#, "properties must be a JSON object"),
        (#"{"visitorId":"v","eventName":"x","timestamp":"yesterday"}"#, "timestamp must be an ISO 8601 date-time string (e.g. 2026-11-29T10:00:00Z)"),
        (#"{"visitorId":"v","eventName":"x","timestamp":"2026-02-30T10:00:00Z"}"#, "timestamp must be an ISO 8601 date-time string (e.g. 2026-11-29T10:00:00Z)"),
        (#"{"visitorId":"v","eventName":"x","timestamp":"2026-11-29T10:00:00"}"#, "timestamp must be an ISO 8601 date-time string (e.g. 2026-11-29T10:00:00Z)"),
        (#"{"visitorId":"v","eventName":"x","timestamp":1764410400}"#, "timestamp must be an ISO 8601 date-time string (e.g. 2026-11-29T10:00:00Z)"),
        (#"{"visitorId":"v","eventName":"x","session":"old"}"#, #"session must be "latest", "new" or null"#),
        (#"{"visitorId":"v","eventName":"x","session":true}"#, #"session must be "latest", "new" or null"#),
    ]

    /// Track bodies that follow every rule.
    static let goodTracks: [String] = [
        #"{"visitorId":"v","eventName":"Az09_-"}"#,
        #"{"visitorId":"v","userId":null,"eventName":"x","properties":null,"timestamp":null,"session":null}"#,
        #"{"visitorId":"v","eventName":"x","properties":{"plan":"pro","n":[1,{"a":null}]}}"#,
        #"{"visitorId":"v","eventName":"x","timestamp":"2026-11-29T10:00:00Z"}"#,
        #"{"visitorId":"v","eventName":"x","timestamp":"2026-11-29T10:00:00.123456Z"}"#,
        #"{"visitorId":"v","eventName":"x","timestamp":"2026-11-29T10:00:00+01:00"}"#,
        #"{"visitorId":"v","eventName":"x","timestamp":"2024-02-29T23:59:59.5-05:30"}"#,
        #"{"visitorId":"v","eventName":"x","session":"latest"}"#,
        #"{"visitorId":"v","eventName":"x","session":"new","extra":"ignored"}"#,
    ]

    @Test func trackRules() async throws {
        try await withServer { client in
            for (body, message) in Self.badTracks {
                let answer = try await client.track(body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.error == message, "\(body)")
            }
            for body in Self.goodTracks {
                let answer = try await client.track(body)
                #expect(answer.status == 202, "\(body): \(answer.text)")
                #expect(answer.json == .object([("success", .bool(true))]))
            }
            #expect(try await client.events().count == Self.goodTracks.count)
        }
    }

    @Test func propertiesSizeIsCompactUTF8Bytes() async throws {
        // {"k":"…"} is 8 bytes of structure; "é" is 2 bytes, whitespace in the request does not count.
        let fits = String(repeating: "é", count: (10_240 - 8) / 2)
        let over = fits + "a"
        try await withServer { client in
            let ok = try await client.track(#"{"visitorId":"v","eventName":"x","properties": { "k" : "\#(fits)" } }"#)
            #expect(ok.status == 202)
            let tooBig = try await client.track(#"{"visitorId":"v","eventName":"x","properties":{"k":"\#(over)"}}"#)
            #expect(tooBig.status == 400)
            #expect(tooBig.error == "properties must be at most 10240 bytes as compact JSON (got 10241)")
        }
    }

    @Test func identifyRules() async throws {
        let bad: [(String, String)] = [
            (#"{"visitorId":"v"}"#, "traits is required"),
            (#"{"visitorId":"v","traits":null}"#, "traits is required"),
            (#"{"visitorId":"v","traits":[]}"#, "traits must be a JSON object"),
            (#"{"traits":{}}"#, "exactly one of userId, email, visitorId is required"),
            (#"{"visitorId":"v","traits":{"userId":5}}"#, "traits.userId must be a non-empty string"),
            (#"{"visitorId":"v","traits":{"userId":""}}"#, "traits.userId must be a non-empty string"),
            (#"{"visitorId":"v","traits":{"email":null}}"#, "traits.email must be a non-empty string"),
            (#"{"visitorId":"v","traits":{"name":1}}"#, "traits.name must be a string"),
        ]
        try await withServer { client in
            for (body, message) in bad {
                let answer = try await client.identify(body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.error == message, "\(body)")
            }
            let ok = try await client.identify(#"{"visitorId":"v","traits":{"name":"Jane","plan":"pro","n":{"x":1}}}"#)
            #expect(ok.status == 200)
            #expect(ok.json == .object([("success", .bool(true))]))
        }
    }

    @Test func userIdNeedsVisitorId() async throws {
        try await withServer { client in
            for path in ["/api/v1/user-id", "/api/v1/user-id?visitorId=", "/api/v1/user-id?other=1"] {
                let answer = try await client.send(.get, path)
                #expect(answer.status == 400)
                #expect(answer.error == "visitorId query parameter is required")
            }
        }
    }

    @Test func keys() async throws {
        try await withServer { client in
            let missing = try await client.track(#"{"visitorId":"v","eventName":"x"}"#, key: nil)
            #expect(missing.status == 401)
            #expect(missing.error == "Missing X-API-Key header")
            let wrong = try await client.send(.get, "/api/v1/user-id?visitorId=v", key: "hm_sk_wrong")
            #expect(wrong.status == 401)
            #expect(wrong.error == "Invalid API key")
            let bad = try await client.identify(#"{"visitorId":"v","traits":{}}"#, key: "")
            #expect(bad.status == 401)
        }
        try await withServer({ $0.keys = ["hm_sk_one_1111", "hm_sk_two_2222"] }) { client in
            #expect(try await client.track(#"{"visitorId":"v","eventName":"x"}"#, key: "hm_sk_two_2222").status == 202)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"x"}"#).status == 401)
            let event = try await client.events().first
            #expect(event?["key"] == .string("hm_sk_…2222"))
        }
    }

    @Test func bodyCap() async throws {
        try await withServer { client in
            let big = #"{"visitorId":"v","eventName":"x","properties":{"k":""# + String(repeating: "a", count: 70_000) + "\"}}"
            let answer = try await client.track(big)
            #expect(answer.status == 413)
            #expect(answer.error == "Request body too large (max 65536 bytes)")
            #expect(try await client.events().isEmpty)
        }
    }

    @Test func unknownRoutesAndMethods() async throws {
        try await withServer { client in
            for (method, path) in [(HTTPRequest.Method.get, "/nope"), (.post, "/api/v1/nope"), (.get, "/api/v2/track"), (.get, "/_dev/nope")] {
                let answer = try await client.send(method, path)
                #expect(answer.status == 404, "\(path)")
                #expect(answer.error == "Not found")
            }
            for (method, path) in [(HTTPRequest.Method.get, "/api/v1/track"), (.post, "/api/v1/user-id"), (.delete, "/api/v1/identify"), (.get, "/_dev/reset"), (.post, "/_dev/events")] {
                let answer = try await client.send(method, path)
                #expect(answer.status == 405, "\(method) \(path)")
                #expect(answer.error == "Method not allowed")
                #expect(answer.header("Allow") != nil)
            }
        }
    }
}
#endif
