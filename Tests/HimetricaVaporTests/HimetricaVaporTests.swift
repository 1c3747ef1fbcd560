#if Vapor  // a package trait (Package.swift)
import HimetricaVapor
import HimetricaTestSupport
import Testing
import Vapor
import VaporTesting

/// Real requests to a live Vapor app whose events reach a himetrica-devserver.
@Suite struct HimetricaVaporTests {
    let server: DevServer

    init() throws {
        server = try DevServer()
    }

    /// Runs `test` against a live app with the middleware and a few routes, then delivers what
    /// is queued and returns the events the server accepted.
    func events(
        visitor: [HimetricaVisitorSource<Request>] = HimetricaVisitorSource.standard,
        tracking: HimetricaRequestTracking = HimetricaRequestTracking(),
        _ test: (any TestingApplicationTester) async throws -> Void
    ) async throws -> [[String: Any]] {
        try await withApp { app in
            try app.himetrica.configure(secretKey: DevServer.key, configuration: server.configuration(), visitor: visitor)
            app.middleware.use(HimetricaMiddleware(tracking))
            app.get("hello") { _ in "hello" }
            app.get("health") { _ in "ok" }
            app.get("health", "db") { _ in "ok" }
            app.get("healthz") { _ in "ok" }
            app.get("users", ":id") { req in "user \(req.parameters.get("id")!)" }
            app.get("fail") { _ -> String in throw Abort(.serviceUnavailable) }
            app.get("me") { req in
                try req.himetrica.track("viewed_me", properties: ["source": "handler"])
                return try await req.himetrica.userId()
            }
            try await test(app.testing(method: .running(hostname: "127.0.0.1", port: 0)))
            await app.himetrica.client.flush()
        }
        return try await server.eventBodies()
    }

    @Test func tracksTheCookieVisitorWithTheRoutePatternAsTheContractSays() async throws {
        let contract = try RequestTrackingContract.load()
        let events = try await events { app in
            try await app.test(.GET, "users/42", headers: ["Cookie": "hm_vid=3f1c2a9e-7b4d.v1"]) { res in
                #expect(res.status == .ok)
            }
            try await app.test(.POST, "nowhere", headers: ["Cookie": "hm_vid=3f1c2a9e-7b4d.v1"]) { res in
                #expect(res.status == .notFound)
            }
        }
        try #require(events.count == 2)
        #expect(events[0]["visitorId"] as? String == "3f1c2a9e-7b4d.v1")
        #expect(events[0]["session"] == nil)
        #expect(contract.violations(of: events[0], method: "GET", route: "/users/:id", status: 200) == [])
        // No route matched: tracked all the same, with a null route (never the raw path).
        #expect(contract.violations(of: events[1], method: "POST", route: nil, status: 404) == [])
    }

    @Test func findsTheVisitorInAHeader() async throws {
        let events = try await events(visitor: [.header("X-Himetrica-Visitor")]) { app in
            try await app.test(.GET, "hello", headers: ["X-Himetrica-Visitor": "header-visitor"])
            try await app.test(.GET, "hello", headers: ["Cookie": "hm_vid=cookie-visitor"])
        }
        #expect(events.map { $0["visitorId"] as? String } == ["header-visitor"])
    }

    @Test func usesTheAppsResolverFirst() async throws {
        let client = try server.client()
        try client.identify(.visitorId("jane-browser"), traits: ["email": "jane@example.com"])
        await client.flush()
        let events = try await events(visitor: [
            .custom { req in req.headers.first(name: "X-User").map(HimetricaClient.Identity.email) }, .cookie("hm_vid"),
        ]) { app in
            try await app.test(.GET, "hello", headers: ["X-User": "jane@example.com", "Cookie": "hm_vid=other"])
            try await app.test(.GET, "hello", headers: ["Cookie": "hm_vid=fallback"])
        }
        let tracks = events.filter { $0.eventName != nil }
        #expect(tracks.map { $0["email"] as? String } == ["jane@example.com", nil])
        #expect(tracks.map { $0["visitorId"] as? String } == [nil, "fallback"])
    }

    @Test func leavesFilteredPathsOut() async throws {
        let tracking = HimetricaRequestTracking(excludedPaths: ["/health"], filter: { _, path in path != "/users/7" })
        let events = try await events(tracking: tracking) { app in
            for path in ["health", "health/db", "users/7", "healthz", "hello"] {
                try await app.test(.GET, path, headers: ["Cookie": "hm_vid=v1"]) { #expect($0.status == .ok) }
            }
        }
        #expect(events.map { $0.properties["route"] as? String } == ["/healthz", "/hello"])
    }

    @Test func ignoresMalformedAndOversizedCookies() async throws {
        let bad = ["", "has space", "<script>", "caf\u{E9}", "a;b", String(repeating: "a", count: 129)]
        let events = try await events { app in
            for value in bad {
                try await app.test(.GET, "hello", headers: ["Cookie": "hm_vid=\"\(value)\""]) { #expect($0.status == .ok) }
            }
            try await app.test(.GET, "hello", headers: ["Cookie": "hm_vid=" + String(repeating: "b", count: 128)])
        }
        #expect(events.map { $0["visitorId"] as? String } == [String(repeating: "b", count: 128)])
    }

    @Test func handlersTrackAndLookUpTheirVisitor() async throws {
        let events = try await events { app in
            try await app.test(.GET, "me", headers: ["Cookie": "hm_vid=handler-visitor"]) { res in
                #expect(res.status == .ok)
                #expect(res.body.string.hasPrefix("hm_usr_"))
            }
        }
        #expect(events.map(\.eventName) == ["viewed_me", "http_request"])
        #expect(events.allSatisfy { $0["visitorId"] as? String == "handler-visitor" })
        #expect(events[0].properties["source"] as? String == "handler")
    }

    @Test func tracksServerErrorsAsTheirOwnEventWhateverTheSampling() async throws {
        let tracking = HimetricaRequestTracking(sampleRate: 0, session: .latest)
        let events = try await events(tracking: tracking) { app in
            try await app.test(.GET, "hello", headers: ["Cookie": "hm_vid=v1"])
            try await app.test(.GET, "fail", headers: ["Cookie": "hm_vid=v1"]) { #expect($0.status == .serviceUnavailable) }
            try await app.test(.GET, "nowhere", headers: ["Cookie": "hm_vid=v1"]) { #expect($0.status == .notFound) }
        }
        try #require(events.count == 1)
        #expect(try RequestTrackingContract.load().violations(of: events[0], method: "GET", route: "/fail", status: 503) == [])
        #expect(events[0]["session"] as? String == "latest")
    }

    @Test func applicationShutdownDeliversWhatIsQueued() async throws {
        let slow = try DevServer(["--latency-ms", "200"])
        let app = try await Application.make(.testing)
        try app.himetrica.configure(
            secretKey: DevServer.key, configuration: slow.configuration { $0.maxInFlight = 1 })
        app.middleware.use(HimetricaMiddleware())
        app.get("hello") { _ in "hello" }
        let tester = try app.testing(method: .running(hostname: "127.0.0.1", port: 0))
        for i in 0..<10 {
            try await tester.test(.GET, "hello", headers: ["Cookie": "hm_vid=visitor-\(i)"])
        }
        let client = app.himetrica.client
        #expect(client.stats.delivered < 10)
        try await app.asyncShutdown()
        #expect(client.stats.delivered == 10)
        #expect(try await slow.eventBodies().count == 10)
        #expect(throws: HimetricaError.shutDown) { try client.track("late", identity: .visitorId("v")) }
    }
}
#endif
