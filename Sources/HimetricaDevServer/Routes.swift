#if DevServer  // a package trait (Package.swift)
import Hummingbird

/// Dispatches every request: `/api/v1/*` to the Server API, `/_dev/*` and `/` to inspection
/// (loopback only), anything else to a JSON 404.
struct DevResponder: HTTPResponder {
    typealias Context = DevContext
    let server: DevServer

    func respond(to request: Request, context: DevContext) async throws -> Response {
        let path = request.uri.path
        if path == "/api/v1" || path.hasPrefix("/api/v1/") {
            return try await api(request, path: path, context: context)
        }
        guard server.options.isLoopback else { return Reply.notFound }
        if path == "/" {
            return request.method == .get || request.method == .head ? Page.response : Reply.methodNotAllowed("GET, HEAD")
        }
        if path.hasPrefix("/_dev/") {
            return await Inspection(server: server).respond(to: request, path: path)
        }
        return Reply.notFound
    }

    /// A Server API request: logged, then subjected to fault injection, then answered.
    private func api(_ request: Request, path: String, context: DevContext) async throws -> Response {
        let endpoint = Endpoint(path: path)
        let ticket = server.store.begin(method: request.method.rawValue, endpoint: endpoint?.rawValue ?? "other")
        let delay: Int
        let response: Response
        switch server.faults.decide() {
        case .down:
            server.store.finish(ticket, status: nil, fault: "down")
            throw await context.closeWithoutAnswer()
        case .drop:
            server.store.finish(ticket, status: nil, fault: "drop")
            throw await context.closeWithoutAnswer()
        case .hang:
            server.store.finish(ticket, status: nil, fault: "hang")
            throw await context.hang()
        case .throttle(let retryAfter, let delayMs):
            try await sleep(ms: delayMs)
            response = Reply.error(.tooManyRequests, "Rate limit exceeded", headers: [.retryAfter: String(retryAfter)])
            server.store.finish(ticket, status: 429, fault: "throttle")
            return response
        case .error(let status, let delayMs):
            try await sleep(ms: delayMs)
            server.store.finish(ticket, status: status, fault: "error")
            return Reply.injectedError(status)
        case .pass(let delayMs):
            delay = delayMs
        }
        try await sleep(ms: delay)
        response = await answer(request, endpoint: endpoint)
        server.store.finish(ticket, status: response.status.code, fault: delay > 0 ? "latency" : nil)
        return response
    }

    private func sleep(ms: Int) async throws {
        if ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
    }

    /// The Server API's own answer: routing, auth, rate limit, validation, semantics.
    private func answer(_ request: Request, endpoint: Endpoint?) async -> Response {
        guard let endpoint else { return Reply.notFound }
        guard request.method == endpoint.method else { return Reply.methodNotAllowed(endpoint.method.rawValue) }
        guard let key = request.headers[.apiKey], !key.isEmpty else {
            return Reply.error(.unauthorized, "Missing X-API-Key header")
        }
        guard server.keys.contains(key) else { return Reply.error(.unauthorized, "Invalid API key") }
        let rate = server.limiter.acquire(apiKey: key, endpoint: endpoint)
        var response: Response
        if let rate, !rate.allowed {
            response = Reply.error(.tooManyRequests, "Rate limit exceeded", headers: [.retryAfter: String(rate.retryAfter)])
        } else {
            response = await handle(request, endpoint: endpoint, key: key)
        }
        if let rate {
            response.headers[.rateLimitLimit] = String(rate.limit)
            response.headers[.rateLimitRemaining] = String(rate.remaining)
            response.headers[.rateLimitReset] = String(rate.reset)
        }
        return response
    }

    /// Runs an authorised, admitted request.
    private func handle(_ request: Request, endpoint: Endpoint, key: String) async -> Response {
        do {
            switch endpoint {
            case .userId:
                let visitorId = try Validation.visitorId(query: request.uri.queryParameters["visitorId"].map(String.init))
                let userId = try server.store.userId(forVisitor: visitorId)
                return Reply.json(.ok, "{\"userId\":" + JSONValue.quoted(userId) + "}")
            case .track, .identify:
                guard let bytes = await BodyReader.read(request) else {
                    return Reply.error(.contentTooLarge, "Request body too large (max \(DevServerOptions.bodyCap) bytes)",
                                       headers: [.connection: "close"])
                }
                let body = try Validation.object(from: bytes)
                let text = String(decoding: bytes, as: UTF8.self)
                if endpoint == .track {
                    try server.store.track(try Validation.track(body), body: text, key: key)
                    return Reply.success(.accepted)
                } else {
                    try server.store.identify(try Validation.identify(body), body: text, key: key)
                    return Reply.success(.ok)
                }
            }
        } catch let error as RuleError {
            return Reply.error(.badRequest, error.message)
        } catch {
            return Reply.error(.notFound, "Visitor not found")
        }
    }
}

/// Reads request bodies up to the cap without ever holding more.
enum BodyReader {
    /// The body's bytes, or nil when it is (announced or found while streaming to be) over the cap.
    static func read(_ request: Request) async -> [UInt8]? {
        let cap = DevServerOptions.bodyCap
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > cap { return nil }
        var bytes: [UInt8] = []
        do {
            for try await chunk in request.body {
                guard bytes.count + chunk.readableBytes <= cap else { return nil }
                bytes.append(contentsOf: chunk.readableBytesView)
            }
        } catch {
            return nil
        }
        return bytes
    }
}

extension Endpoint {
    /// The endpoint served at `path`, if any.
    init?(path: String) {
        switch path {
        case "/api/v1/track": self = .track
        case "/api/v1/identify": self = .identify
        case "/api/v1/user-id": self = .userId
        default: return nil
        }
    }

    /// The one method the endpoint answers.
    var method: HTTPRequest.Method {
        self == .userId ? .get : .post
    }
}
#endif
