#if DevServer  // a package trait (Package.swift)
import Hummingbird

/// The `/_dev/*` inspection and admin API (no key; served only on loopback; never faulted).
struct Inspection {
    let server: DevServer

    /// Answers a request to `/_dev/...`.
    func respond(to request: Request, path: String) async -> Response {
        let method = request.method
        switch path {
        case "/_dev/events", "/_dev/requests":
            guard method == .get else { return Reply.methodNotAllowed("GET") }
            guard let after = after(request) else {
                return Reply.error(.badRequest, "after must be a non-negative integer")
            }
            let body = path == "/_dev/events" ? server.store.eventsJSON(after: after) : server.store.requestsJSON(after: after)
            return Reply.json(.ok, body)
        case "/_dev/stats":
            guard method == .get else { return Reply.methodNotAllowed("GET") }
            return Reply.json(.ok, server.store.statsJSON())
        case "/_dev/windows":
            guard method == .get else { return Reply.methodNotAllowed("GET") }
            return Reply.json(.ok, Self.windowsJSON(server.limiter.usage()))
        case "/_dev/reset":
            guard method == .post else { return Reply.methodNotAllowed("POST") }
            server.store.reset()
            server.limiter.reset()
            return Reply.success(.ok)
        case "/_dev/faults":
            switch method {
            case .get: return Reply.json(.ok, faultsJSON())
            case .put:
                do {
                    let settings = try FaultSettings.from(json: try await jsonBody(request))
                    server.faults.replace(with: settings)
                    return Reply.json(.ok, faultsJSON())
                } catch {
                    return Reply.error(.badRequest, error.message)
                }
            default: return Reply.methodNotAllowed("GET, PUT")
            }
        case "/_dev/limits":
            switch method {
            case .get: return Reply.json(.ok, Self.limitsJSON(server.limiter.limits))
            case .put:
                do {
                    server.limiter.replace(limits: try Self.limits(from: try await jsonBody(request)))
                    return Reply.json(.ok, Self.limitsJSON(server.limiter.limits))
                } catch {
                    return Reply.error(.badRequest, error.message)
                }
            default: return Reply.methodNotAllowed("GET, PUT")
            }
        default:
            return Reply.notFound
        }
    }

    /// The `after` query parameter (0 when absent); nil when malformed.
    private func after(_ request: Request) -> Int? {
        guard let text = request.uri.queryParameters["after"], !text.isEmpty else { return 0 }
        guard let value = Int(text), value >= 0 else { return nil }
        return value
    }

    /// The request body as a JSON object.
    private func jsonBody(_ request: Request) async throws(RuleError) -> JSONValue {
        guard let bytes = await BodyReader.read(request) else {
            throw RuleError(message: "body too large")
        }
        return try Validation.object(from: bytes)
    }

    /// The fault settings plus how long the server stays down from now.
    private func faultsJSON() -> String {
        String(server.faults.settings.json.dropLast()) + ",\"downRemainingSeconds\":\(server.faults.downRemaining)}"
    }

    /// `{"track": {"count": 20, "seconds": 2}, ...}`, null for an unlimited endpoint.
    static func limitsJSON(_ limits: [Endpoint: RateLimit]) -> String {
        let members = Endpoint.allCases.map { endpoint in
            let value = limits[endpoint].map { "{\"count\":\($0.count),\"seconds\":\($0.seconds)}" } ?? "null"
            return "\"\(endpoint.rawValue)\":" + value
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// `{"track": {"count": 20, "seconds": 2, "keys": [{"key": "hm_sk_…abcd", "accepted": 3}]}, ...}`:
    /// each limit with the requests each key has accepted in the window ending now (keys with
    /// none left out); null for an unlimited endpoint.
    static func windowsJSON(_ usage: [Endpoint: WindowUsage]) -> String {
        let members = Endpoint.allCases.map { endpoint in
            let value = usage[endpoint].map { window in
                let keys = window.accepted.map { "{\"key\":" + JSONValue.quoted(Keys.mask($0.apiKey)) + ",\"accepted\":\($0.count)}" }
                return "{\"count\":\(window.limit.count),\"seconds\":\(window.limit.seconds),\"keys\":[" + keys.joined(separator: ",") + "]}"
            } ?? "null"
            return "\"\(endpoint.rawValue)\":" + value
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// Reads a `PUT /_dev/limits` body; a missing or null endpoint is unlimited.
    static func limits(from body: JSONValue) throws(RuleError) -> [Endpoint: RateLimit] {
        var limits: [Endpoint: RateLimit] = [:]
        for endpoint in Endpoint.allCases {
            guard let value = body.member(endpoint.rawValue), value != .null else { continue }
            guard let count = value.member("count")?.doubleValue, count >= 1, count == count.rounded(), count < 1e9,
                let seconds = value.member("seconds")?.doubleValue, seconds > 0, seconds.isFinite
            else {
                throw RuleError(
                    message: "\(endpoint.rawValue) must be null or {\"count\": positive integer, \"seconds\": positive number}"
                )
            }
            limits[endpoint] = RateLimit(count: Int(count), seconds: seconds)
        }
        return limits
    }
}
#endif
