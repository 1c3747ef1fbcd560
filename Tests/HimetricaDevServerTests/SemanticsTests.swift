#if DevServer  // a package trait (Package.swift)
import Foundation
import Testing

@testable import HimetricaDevServer

/// Visitors, users, merging, sessions and the 404 rules.
@Suite struct SemanticsTests {
    @Test func stableUserIds() async throws {
        try await withServer { client in
            let a = try await client.userId("visitor-a")
            #expect(a.hasPrefix("hm_usr_"))
            #expect(a.dropFirst(7).allSatisfy(\.isHexDigit) && a.count > 7)
            #expect(try await client.userId("visitor-a") == a)
            #expect(try await client.userId("visitor-b") != a)
            // The id is derived from the visitor id, so it survives a reset.
            _ = try await client.send(.post, "/_dev/reset", key: nil)
            #expect(try await client.userId("visitor-a") == a)
        }
    }

    @Test func notFoundRules() async throws {
        try await withServer { client in
            let unknownUser = try await client.track(#"{"userId":"hm_usr_ffffffffffff","eventName":"x"}"#)
            #expect(unknownUser.status == 404)
            #expect(unknownUser.error == "Visitor not found")
            let unknownEmail = try await client.track(#"{"email":"jane@example.com","eventName":"x"}"#)
            #expect(unknownEmail.status == 404)
            #expect(unknownEmail.error == "Visitor not found")
            #expect(try await client.identify(#"{"email":"jane@example.com","traits":{}}"#).status == 404)

            #expect(try await client.identify(#"{"visitorId":"v1","traits":{"email":"jane@example.com"}}"#).status == 200)
            #expect(try await client.track(#"{"email":"jane@example.com","eventName":"x"}"#).status == 202)
            let user = try await client.userId("v1")
            #expect(try await client.track(#"{"userId":"\#(user)","eventName":"x"}"#).status == 202)
            let events = try await client.events()
            #expect(events.map { $0["visitorId"] } == Array(repeating: .string("v1"), count: 3))
            #expect(events.map { $0["userId"] } == Array(repeating: .string(user), count: 3))
        }
        try await withServer({ $0.autoCreateVisitors = false }) { client in
            let track = try await client.track(#"{"visitorId":"new","eventName":"x"}"#)
            #expect(track.status == 404)
            #expect(track.error == "Visitor not found")
            let lookup = try await client.send(.get, "/api/v1/user-id?visitorId=new")
            #expect(lookup.status == 404)
            #expect(lookup.error == "Visitor not found")
            #expect(try await client.identify(#"{"visitorId":"new","traits":{}}"#).status == 404)
        }
    }

    @Test func mergeByExternalId() async throws {
        try await withServer { client in
            let laptop = try await client.userId("laptop")
            let phone = try await client.userId("phone")
            #expect(laptop != phone)
            #expect(try await client.identify(#"{"visitorId":"laptop","traits":{"userId":"usr_123","email":"jane@example.com","name":"Jane","plan":"pro"}}"#).status == 200)
            #expect(try await client.identify(#"{"visitorId":"phone","traits":{"userId":"usr_123"}}"#).status == 200)
            #expect(try await client.userId("phone") == laptop)
            #expect(try await client.userId("laptop") == laptop)
            // The merged-away id still resolves, to the merged user.
            #expect(try await client.track(#"{"userId":"\#(phone)","eventName":"x"}"#).status == 202)
            let last = try await client.events().last
            #expect(last?["userId"] == .string(laptop))
            let stats = try await client.send(.get, "/_dev/stats", key: nil).json
            #expect(stats?["visitors"] == .number("2"))
            #expect(stats?["users"] == .number("1"))
        }
    }

    @Test func identifyByUserIdUpdatesTraits() async throws {
        try await withServer { client in
            let user = try await client.userId("v")
            #expect(try await client.identify(#"{"userId":"\#(user)","traits":{"email":"old@example.com"}}"#).status == 200)
            #expect(try await client.identify(#"{"userId":"\#(user)","traits":{"email":"new@example.com"}}"#).status == 200)
            #expect(try await client.track(#"{"email":"new@example.com","eventName":"x"}"#).status == 202)
            #expect(try await client.track(#"{"email":"old@example.com","eventName":"x"}"#).status == 404)
        }
    }

    @Test func sessions() async throws {
        try await withServer { client in
            #expect(try await client.track(#"{"visitorId":"v","eventName":"a","session":"latest"}"#).status == 202)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"b","session":"new"}"#).status == 202)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"c","session":"latest"}"#).status == 202)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"d"}"#).status == 202)
            #expect(try await client.track(#"{"visitorId":"v","eventName":"e","session":"new"}"#).status == 202)
            let sessions = try await client.events().map { $0["sessionId"] }
            #expect(sessions == [.null, .string("hm_ses_1"), .string("hm_ses_1"), .null, .string("hm_ses_2")])
        }
    }

    @Test func perVisitorLimitDropsSilently() async throws {
        try await withServer({ $0.perVisitorLimit = true }) { client in
            for _ in 0..<12 {
                #expect(try await client.track(#"{"visitorId":"v","eventName":"x"}"#).status == 202)
            }
            #expect(try await client.track(#"{"visitorId":"w","eventName":"x"}"#).status == 202)
            #expect(try await client.events().count == 11)
            let stats = try await client.send(.get, "/_dev/stats", key: nil).json
            #expect(stats?["perVisitorDrops"] == .number("2"))
        }
    }

    @Test func stateFileSurvivesRestart() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("devserver-state-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withServer({ $0.stateFile = path }) { (client: DevClient) async throws in
            #expect(try await client.identify(#"{"visitorId":"v","traits":{"email":"jane@example.com","userId":"u1"}}"#).status == 200)
        }
        try await withServer({ $0.stateFile = path; $0.autoCreateVisitors = false }) { (client: DevClient) async throws in
            #expect(try await client.track(#"{"email":"jane@example.com","eventName":"x"}"#).status == 202)
            #expect(try await client.send(.get, "/api/v1/user-id?visitorId=v").status == 200)
        }
    }
}
#endif
