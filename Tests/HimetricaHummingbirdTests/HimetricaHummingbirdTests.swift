#if Hummingbird  // a package trait (Package.swift)
import HTTPTypes
import HimetricaHummingbird
import Hummingbird
import HummingbirdTesting
import HimetricaTestSupport
import Testing

/// A context giving handlers `context.himetrica`.
struct TestContext: HimetricaRequestContext {
    var coreContext: CoreRequestContextStorage
    var himetrica: HimetricaRequestHandle?

    init(source: Source) { coreContext = .init(source: source) }
}

/// Real requests to a live Hummingbird app whose events reach a himetrica-devserver.
@Suite struct HimetricaHummingbirdTests {
    let server: DevServer

    init() throws {
        server = try DevServer()
    }

    /// An app with the middleware, a few routes, and the client as its service.
    func app(
        _ client: HimetricaClient,
        visitor: [HimetricaVisitorSource<HimetricaHummingbirdInput<TestContext>>] = HimetricaVisitorSource.standard,
        tracking: HimetricaRequestTracking = HimetricaRequestTracking()
    ) -> some ApplicationProtocol {
        let router = Router(context: TestContext.self)
        router.add(middleware: HimetricaMiddleware(client: client, visitor: visitor, tracking: tracking))
        router.get("hello") { _, _ in "hello" }
        router.get("health") { _, _ in "ok" }
        router.get("health/db") { _, _ in "ok" }
        router.get("healthz") { _, _ in "ok" }
        router.get("users/:id") { _, context in "user \(context.parameters.get("id")!)" }
        router.get("fail") { _, _ -> String in throw HTTPError(.serviceUnavailable) }
        router.get("me") { _, context in
            try context.himetrica?.track("viewed_me", properties: ["source": "handler"])
            return try await context.himetrica?.userId() ?? "none"
        }
        return Application(router: router, services: [client])
    }

    /// Runs `test` against the live app, lets it shut down (which delivers what is queued), and
    /// returns the events the server accepted.
    func events(
        visitor: [HimetricaVisitorSource<HimetricaHummingbirdInput<TestContext>>] = HimetricaVisitorSource.standard,
        tracking: HimetricaRequestTracking = HimetricaRequestTracking(),
        _ test: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws -> [[String: Any]] {
        try await app(try server.client(), visitor: visitor, tracking: tracking).test(.live, test)
        return try await server.eventBodies()
    }

    @Test func tracksTheCookieVisitorWithTheRoutePatternAsTheContractSays() async throws {
        let contract = try RequestTrackingContract.load()
        let events = try await events { client in
            try await client.execute(uri: "/users/42", method: .get, headers: [.cookie: "hm_vid=3f1c2a9e-7b4d.v1"]) { res in
                #expect(res.status == .ok)
            }
            try await client.execute(uri: "/nowhere", method: .post, headers: [.cookie: "hm_vid=3f1c2a9e-7b4d.v1"]) { res in
                #expect(res.status == .notFound)
            }
        }
        try #require(events.count == 2)
        #expect(events[0]["visitorId"] as? String == "3f1c2a9e-7b4d.v1")
        #expect(contract.violations(of: events[0], method: "GET", route: "/users/{id}", status: 200) == [])
        // No route matched: tracked all the same, with a null route (never the raw path).
        #expect(contract.violations(of: events[1], method: "POST", route: nil, status: 404) == [])
    }

    @Test func findsTheVisitorInAHeader() async throws {
        let events = try await events(visitor: [.header("X-Himetrica-Visitor")]) { client in
            try await client.execute(uri: "/hello", method: .get, headers: [.init("X-Himetrica-Visitor")!: "header-visitor"])
            try await client.execute(uri: "/hello", method: .get, headers: [.cookie: "hm_vid=cookie-visitor"])
        }
        #expect(events.map { $0["visitorId"] as? String } == ["header-visitor"])
    }

    @Test func usesTheAppsResolverFirst() async throws {
        let setup = try server.client()
        try setup.identify(.visitorId("jane-browser"), traits: ["email": "jane@example.com"])
        await setup.shutdown()
        let user = HTTPField.Name("X-User")!
        let events = try await events(visitor: [
            .custom { request, _ in request.headers[user].map(HimetricaClient.Identity.email) }, .cookie("hm_vid"),
        ]) { client in
            try await client.execute(uri: "/hello", method: .get, headers: [user: "jane@example.com", .cookie: "hm_vid=other"])
            try await client.execute(uri: "/hello", method: .get, headers: [.cookie: "hm_vid=fallback"])
        }
        let tracks = events.filter { $0.eventName != nil }
        #expect(tracks.map { $0["email"] as? String } == ["jane@example.com", nil])
        #expect(tracks.map { $0["visitorId"] as? String } == [nil, "fallback"])
    }

    @Test func leavesFilteredPathsOut() async throws {
        let tracking = HimetricaRequestTracking(excludedPaths: ["/health"], filter: { _, path in path != "/users/7" })
        let events = try await events(tracking: tracking) { client in
            for path in ["/health", "/health/db", "/users/7", "/healthz", "/hello"] {
                try await client.execute(uri: path, method: .get, headers: [.cookie: "hm_vid=v1"]) { #expect($0.status == .ok) }
            }
        }
        #expect(events.map { $0.properties["route"] as? String } == ["/healthz", "/hello"])
    }

    @Test func ignoresMalformedAndOversizedCookies() async throws {
        let bad = ["", "has space", "<script>", "caf%C3%A9", "a;b", String(repeating: "a", count: 129)]
        let events = try await events { client in
            for value in bad {
                try await client.execute(uri: "/hello", method: .get, headers: [.cookie: "hm_vid=\"\(value)\""]) {
                    #expect($0.status == .ok)
                }
            }
            try await client.execute(uri: "/hello", method: .get, headers: [.cookie: "hm_vid=" + String(repeating: "b", count: 128)])
        }
        #expect(events.map { $0["visitorId"] as? String } == [String(repeating: "b", count: 128)])
    }

    @Test func handlersTrackAndLookUpTheirVisitor() async throws {
        let events = try await events { client in
            try await client.execute(uri: "/me", method: .get, headers: [.cookie: "hm_vid=handler-visitor"]) { res in
                #expect(res.status == .ok)
                #expect(String(buffer: res.body).hasPrefix("hm_usr_"))
            }
        }
        #expect(events.map(\.eventName) == ["viewed_me", "http_request"])
        #expect(events.allSatisfy { $0["visitorId"] as? String == "handler-visitor" })
        #expect(events[0].properties["source"] as? String == "handler")
    }

    @Test func tracksServerErrorsAsTheirOwnEventWhateverTheSampling() async throws {
        let tracking = HimetricaRequestTracking(sampleRate: 0, session: .latest)
        let events = try await events(tracking: tracking) { client in
            try await client.execute(uri: "/hello", method: .get, headers: [.cookie: "hm_vid=v1"])
            try await client.execute(uri: "/fail", method: .get, headers: [.cookie: "hm_vid=v1"]) {
                #expect($0.status == .serviceUnavailable)
            }
            try await client.execute(uri: "/nowhere", method: .get, headers: [.cookie: "hm_vid=v1"]) {
                #expect($0.status == .notFound)
            }
        }
        try #require(events.count == 1)
        #expect(try RequestTrackingContract.load().violations(of: events[0], method: "GET", route: "/fail", status: 503) == [])
        #expect(events[0]["session"] as? String == "latest")
    }

    @Test func gracefulShutdownDeliversWhatIsQueued() async throws {
        let slow = try DevServer(["--latency-ms", "200"])
        let client = try slow.client { $0.maxInFlight = 1 }
        try await app(client).test(.live) { http in
            for i in 0..<10 {
                try await http.execute(uri: "/hello", method: .get, headers: [.cookie: "hm_vid=visitor-\(i)"])
            }
            #expect(client.stats.delivered < 10)
        }
        #expect(client.stats.delivered == 10)
        #expect(try await slow.eventBodies().count == 10)
        #expect(throws: HimetricaError.shutDown) { try client.track("late", identity: .visitorId("v")) }
    }
}
#endif
