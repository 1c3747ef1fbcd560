import Foundation
import Himetrica
import HimetricaCore
import HimetricaRules
import HimetricaTestSupport
import Logging
import ServiceLifecycle
import Testing

/// The Swift API's calls and options against a real dev server.
@Suite(.serialized)
struct ClientAPITests {
    struct Order: Encodable {
        let plan: String
        let amount: Double
        let placedAt: Date
    }

    @Test("JSONValue and Encodable properties, timestamps and sessions arrive as sent")
    func properties() async throws {
        let server = try DevServer()
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration())
        try client.track("literal", identity: .visitorId("api-1"), properties: ["plan": "pro", "amount": 29.99, "tags": ["a", "b"]],
                         session: .new)
        try client.track("encoded", identity: .visitorId("api-1"),
                         properties: Order(plan: "team", amount: 5, placedAt: Date(timeIntervalSince1970: 0)),
                         timestamp: Date(timeIntervalSince1970: 1_700_000_000.5))
        try client.track("raw", identity: .visitorId("api-1"), propertiesJSON: #"{ "k": [1, 2, {"x": null}] }"#)
        #expect(await client.flush(timeout: .seconds(10)).completed)
        let events = try await server.events()
        #expect(events.count == 3)
        #expect(events[0].body["session"] as? String == "new")
        #expect((events[0].property("tags") as? [String]) == ["a", "b"])
        #expect(events[1].property("placedAt") as? String == "1970-01-01T00:00:00Z")
        #expect(events[1].body["timestamp"] as? String == "2023-11-14T22:13:20.500Z")
        #expect(events[2].property("k") != nil)
        await client.shutdown()
    }

    @Test("validation errors name the field and rule, and nothing is queued")
    func validation() async throws {
        let server = try DevServer()
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration())
        #expect(throws: HimetricaError.invalid(ValidationError(field: "eventName", rule: "may contain only letters, digits, '_' and '-'"))) {
            try client.track("no spaces", identity: .visitorId("v"))
        }
        #expect(throws: HimetricaError.invalid(ValidationError(field: "properties.x", rule: "numbers must be finite (no NaN or Infinity)"))) {
            try client.track("nan", identity: .visitorId("v"), properties: ["x": .double(.nan)])
        }
        #expect(throws: HimetricaError.invalid(ValidationError(field: "traits.email", rule: "must be a string"))) {
            try client.identify(.visitorId("v"), traits: ["email": 42])
        }
        #expect(throws: ValidationError(field: "secretKey", rule: "must be a Himetrica secret key (hm_sk_ followed by letters, digits, '_' or '-')")) {
            _ = try HimetricaClient(secretKey: "sk_live_123")
        }
        #expect(client.stats.queued == 0)
        await client.shutdown()
        #expect(throws: HimetricaError.shutDown) { try client.track("late", identity: .visitorId("v")) }
    }

    @Test("userId: resolves, caches, coalesces concurrent lookups, and reports 404")
    func userIds() async throws {
        let server = try DevServer(["--no-auto-create"])
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration())
        await #expect(throws: HimetricaError.notFound) { try await client.userId(forVisitor: "never-seen") }

        let open = try DevServer()
        let client2 = try HimetricaClient(secretKey: DevServer.key, configuration: open.configuration())
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await client2.userId(forVisitor: "shared-visitor") } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 1 && ids[0].hasPrefix("hm_usr_"))
        _ = try await client2.userId(forVisitor: "shared-visitor")
        let lookups = try await open.requests().filter { $0["endpoint"] as? String == "user-id" }
        #expect(lookups.count == 1, "one request for 11 lookups")
        await client.shutdown()
        await client2.shutdown()
    }

    @Test("as a Service: graceful shutdown delivers what is queued")
    func serviceLifecycle() async throws {
        let server = try DevServer()
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration())
        let group = ServiceGroup(services: [client], logger: .init(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for i in 0..<20 { try client.track("served", identity: .visitorId("svc-\(i)")) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await server.events().count == 20)
        #expect(throws: HimetricaError.shutDown) { try client.track("late", identity: .visitorId("v")) }
    }
}
