#if DevServer  // a package trait (Package.swift)
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import NIOCore
import HTTPTypes
import Testing

@testable import HimetricaDevServer

/// The key every test server accepts unless a test configures others.
let devKey = DevServerOptions.defaultDevKey

/// What a request got back.
enum Outcome: Sendable {
    /// An HTTP answer.
    case answered(Answer)
    /// The connection was closed without any answer.
    case noAnswer
    /// Nothing came back before the client's timeout.
    case timedOut
}

/// An HTTP answer: status, headers, body text and the body parsed as JSON.
struct Answer: Sendable {
    let status: Int
    let headers: HTTPFields
    let text: String

    var json: JSONValue? { JSONValue.parse(text) }
    /// The `error` member of a JSON error body.
    var error: String? { json?.member("error")?.stringValue }

    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

/// Talks to one live dev server; every request uses a fresh connection so a dropped or hung
/// request cannot affect the next one.
struct DevClient: Sendable {
    let port: Int

    /// Sends a request and reports what happened.
    func outcome(
        _ method: HTTPRequest.Method, _ path: String, key: String? = devKey, body: String? = nil,
        headers: HTTPFields = [:], timeout: Duration = .seconds(10)
    ) async throws -> Outcome {
        var fields = headers
        if let key { fields[HTTPField.Name("X-API-Key")!] = key }
        if body != nil { fields[.contentType] = "application/json" }
        fields[.connection] = "close"
        // TestClient's own timeout still waits for the connection to end, so give up here by
        // closing the connection once `timeout` has passed.
        let client = TestClient(host: "localhost", port: port, configuration: .init(timeout: timeout + .seconds(30)))
        client.connect()
        let gaveUp = Mutex(false)
        let timer = Task {
            try await Task.sleep(for: timeout)
            gaveUp.withLock { $0 = true }
            try? await client.close(mode: .all)
        }
        defer { timer.cancel() }
        let result: Outcome
        do {
            let response = try await client.execute(
                TestClient.Request(path, method: method, authority: "localhost", headers: fields,
                                   body: body.map { ByteBuffer(string: $0) })
            )
            result = .answered(Answer(status: response.status.code, headers: response.headers,
                                      text: response.body.map { String(buffer: $0) } ?? ""))
        } catch where gaveUp.withLock({ $0 }) {
            result = .timedOut
        } catch {
            // Closed, reset or end of stream before an answer: the server answered nothing.
            result = .noAnswer
        }
        try? await client.shutdown()
        return result
    }

    /// Sends a request that must be answered.
    func send(
        _ method: HTTPRequest.Method, _ path: String, key: String? = devKey, body: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> Answer {
        guard case .answered(let answer) = try await outcome(method, path, key: key, body: body, headers: headers) else {
            Issue.record("\(method) \(path) got no answer")
            throw NoAnswer()
        }
        return answer
    }

    func track(_ body: String, key: String? = devKey) async throws -> Answer {
        try await send(.post, "/api/v1/track", key: key, body: body)
    }

    func identify(_ body: String, key: String? = devKey) async throws -> Answer {
        try await send(.post, "/api/v1/identify", key: key, body: body)
    }

    /// `GET /api/v1/user-id` for `visitor`, returning the user id (failing the test on another status).
    func userId(_ visitor: String) async throws -> String {
        let answer = try await send(.get, "/api/v1/user-id?visitorId=\(visitor)")
        #expect(answer.status == 200)
        return answer.json?.member("userId")?.stringValue ?? ""
    }

    /// The `/_dev/events` list.
    func events(after: Int = 0) async throws -> [JSONValue] {
        guard case .array(let items)? = try await send(.get, "/_dev/events?after=\(after)", key: nil).json?.member("events")
        else { return [] }
        return items
    }

    /// The `/_dev/requests` list.
    func requests(after: Int = 0) async throws -> [JSONValue] {
        guard case .array(let items)? = try await send(.get, "/_dev/requests?after=\(after)", key: nil).json?.member("requests")
        else { return [] }
        return items
    }

    /// Replaces the fault settings.
    func setFaults(_ json: String) async throws {
        let answer = try await send(.put, "/_dev/faults", key: nil, body: json)
        #expect(answer.status == 200, "PUT /_dev/faults: \(answer.text)")
    }
}

struct NoAnswer: Error {}

/// Runs `body` against a live dev server (HummingbirdTesting live mode) built from `options`.
func withServer(
    _ configure: (inout DevServerOptions) -> Void = { _ in },
    _ body: @escaping @Sendable (DevClient) async throws -> Void
) async throws {
    var options = DevServerOptions()
    configure(&options)
    var logger = Logger(label: "devserver-test")
    logger.logLevel = .warning
    let app = try buildApplication(options, logger: logger)
    try await app.test(.live) { client in
        try await body(DevClient(port: client.port!))
    }
}

extension JSONValue {
    /// Member lookup by a path of keys.
    subscript(_ keys: String...) -> JSONValue? {
        var value: JSONValue? = self
        for key in keys { value = value?.member(key) }
        return value
    }
}
#endif
