import Foundation
import Himetrica
import HimetricaCore
import HimetricaRules
import HimetricaTestSupport
import Testing

/// The Swift client against a real dev server over loopback.
@Suite(.serialized)
struct DeliveryTests {
    @Test("2,000 mixed tracks and identifies arrive exactly once, in order per identity")
    func mixedTraffic() async throws {
        let server = try DevServer(["--no-limits"])
        let deliveries = Deliveries()
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration {
            $0.maxInFlight = 8
            $0.rateLimits = [.track: nil, .identify: nil, .userId: nil]
            $0.onDelivery = { deliveries.append($0) }
        })
        var sent = 0
        for visitor in 0..<100 {
            let email = "person\(visitor)@example.com"
            try client.identify(.visitorId("visitor-\(visitor)"), traits: ["email": .string(email), "name": .string("P\(visitor)")])
            sent += 1
            for seq in 0..<19 {
                let identity: Identity = seq % 2 == 0 ? .email(email) : .visitorId("visitor-\(visitor)")
                try client.track("step", identity: identity, properties: ["seq": .int(Int64(seq)), "v": .int(Int64(visitor))])
                sent += 1
            }
        }
        let result = await client.flush(timeout: .seconds(60))
        #expect(result.completed)
        #expect(deliveries.all.count == sent)
        #expect(deliveries.all.allSatisfy { $0.outcome == .delivered }, "identify-then-track-by-email never 404s")

        let events = try await server.events()
        #expect(events.count == sent)
        var lastSeq: [String: Int] = [:]
        var seen = Set<String>()
        for event in events where event["endpoint"] as? String == "track" {
            let body = event.body
            let identity = (body["email"] ?? body["visitorId"]) as! String
            let seq = event.property("seq") as! Int
            let key = "\(identity)#\(seq)"
            #expect(!seen.contains(key), "delivered once: \(key)")
            seen.insert(key)
            #expect(seq > lastSeq[identity, default: -1], "in call order for \(identity)")
            lastSeq[identity] = seq
        }
        let stats = client.stats
        #expect(stats.queued == UInt64(sent) && stats.delivered == UInt64(sent) && stats.retried == 0)
        await client.shutdown()
    }

    @Test("503s, dropped connections and a 3 s outage: every event arrives")
    func faultScenario() async throws {
        let server = try DevServer(["--no-limits", "--error-rate", "0.3", "--drop-rate", "0.05", "--seed", "7"])
        try await server.setFaults(["errorRate": 0.3, "errorStatus": 503, "dropRate": 0.05, "downForSeconds": 3, "seed": 7])
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration {
            $0.rateLimits = [.track: nil, .identify: nil, .userId: nil]
            $0.retryBaseDelay = .seconds(0.05)
            $0.retryMaxDelay = .seconds(1)
            $0.maxAttempts = 40
        })
        let count = 400
        for i in 0..<count {
            try client.track("fault_test", identity: .visitorId("fv-\(i % 25)"), properties: ["n": .int(Int64(i))])
        }
        let result = await client.flush(timeout: .seconds(60))
        #expect(result.completed)
        let events = try await server.events()
        let numbers = events.compactMap { $0.property("n") as? Int }
        #expect(Set(numbers) == Set(0..<count), "every event arrived")
        let duplicates = numbers.count - Set(numbers).count
        let requests = try await server.requests()
        let dropped = requests.filter { $0["fault"] as? String == "drop" }.count
        #expect(duplicates <= dropped, "duplicates (\(duplicates)) only where an answer was lost (\(dropped) drops)")
        let stats = client.stats
        #expect(stats.delivered == UInt64(count) && stats.gaveUp == 0 && stats.retried > 0)
        print("fault scenario: \(count) events, \(requests.count) requests, \(stats.retried) retries, \(dropped) drops, \(duplicates) duplicates")
        await client.shutdown()
    }

    @Test("401: each request rejected once, nothing retried, one loud log line")
    func unauthorized() async throws {
        let server = try DevServer()
        let logs = LogLines()
        let deliveries = Deliveries()
        let wrongKey = "hm_sk_not_the_configured_key_42"
        let client = try HimetricaClient(secretKey: wrongKey, configuration: server.configuration {
            $0.logger = logs.logger
            $0.onDelivery = { deliveries.append($0) }
        })
        for i in 0..<10 { try client.track("denied", identity: .visitorId("v\(i)")) }
        #expect(await client.flush(timeout: .seconds(10)).completed)
        #expect(deliveries.all.count == 10 && deliveries.all.allSatisfy { $0.outcome == .rejected && $0.status == 401 })
        #expect(client.stats.retried == 0)
        #expect(try await server.requests().count == 10)
        let errors = logs.all.filter { $0.0 >= .error }
        #expect(errors.count == 1 && errors[0].1.contains("401"))
        #expect(!logs.all.contains { $0.1.contains(wrongKey) }, "the key never appears in a log line")
        await client.shutdown()
    }

    @Test("429 with Retry-After: 2: no request to that endpoint before 2 s have passed")
    func retryAfter() async throws {
        let server = try DevServer(["--no-limits", "--throttle-rate", "1", "--retry-after", "2"])
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration {
            $0.maxInFlight = 1
            $0.retryBaseDelay = .seconds(0.01)
        })
        for i in 0..<3 { try client.track("throttled", identity: .visitorId("t\(i)")) }
        try await Task.sleep(for: .milliseconds(700))
        try await server.setFaults([:])
        #expect(await client.flush(timeout: .seconds(15)).completed)
        let requests = try await server.requests()
        let throttled = try #require(requests.first { $0["status"] as? Int == 429 })
        let throttledAt = throttled["receivedAt"] as! Double
        let later = requests.filter { ($0["seq"] as! Int) > (throttled["seq"] as! Int) }
        #expect(!later.isEmpty)
        #expect(later.allSatisfy { ($0["receivedAt"] as! Double) >= throttledAt + 2000 - 5 },
                "first request after the 429 came \(later.map { ($0["receivedAt"] as! Double) - throttledAt }.min() ?? 0) ms later")
        #expect(client.stats.throttled >= 1 && client.stats.delivered == 3)
        await client.shutdown()
    }

    @Test("a server that hangs: flush(timeout: 1 s) returns in time and reports what is pending")
    func hangingServer() async throws {
        let server = try DevServer(["--hang"])
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration())
        for i in 0..<5 { try client.track("stuck", identity: .visitorId("h\(i)")) }
        let start = ContinuousClock.now
        let result = await client.flush(timeout: .seconds(1))
        let elapsed = ContinuousClock.now - start
        #expect(result.pending == 5)
        #expect(elapsed < .milliseconds(1500), "flush took \(elapsed)")
        let shutdownStart = ContinuousClock.now
        let final = await client.shutdown(timeout: .milliseconds(500))
        #expect(ContinuousClock.now - shutdownStart < .milliseconds(1500))
        #expect(final.pending == 5 && client.stats.dropped == 5)
    }

    @Test("a limit of 20 per 2 s: never more than 20 requests in any 2 s window, no 429")
    func clientSideLimit() async throws {
        let server = try DevServer(["--limit", "track=20/2"])
        let client = try HimetricaClient(secretKey: DevServer.key, configuration: server.configuration {
            $0.rateLimits[.track] = RateLimit(count: 20, window: .seconds(2))
        })
        for i in 0..<50 { try client.track("limited", identity: .visitorId("l\(i % 7)")) }
        #expect(await client.flush(timeout: .seconds(20)).completed)
        let requests = try await server.requests()
        #expect(requests.count == 50)
        #expect(!requests.contains { $0["status"] as? Int == 429 })
        let times = requests.map { $0["receivedAt"] as! Double }.sorted()
        for (i, start) in times.enumerated() {
            let inWindow = times[i...].prefix { $0 < start + 2000 }.count
            #expect(inWindow <= 20, "\(inWindow) requests in the 2 s from \(start)")
        }
        #expect(client.stats.throttled == 0)
        await client.shutdown()
    }
}
