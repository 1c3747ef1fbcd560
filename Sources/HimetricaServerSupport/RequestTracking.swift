import Logging

/// What the middleware records about each request it sees.
///
/// Each tracked request becomes one event about the request's visitor with the properties
/// `method`, `route` (the matched route pattern such as `/users/:id`, never the raw path, so no
/// ids or personal data), `status` and `duration_ms` (until the handler returned its response).
/// Requests without a visitor, or that matched no route, are not tracked. Tracking only queues
/// the event: it never throws into the request and never waits for the network.
public struct HimetricaRequestTracking: Sendable {
    /// The event name for a request. Default `http_request`.
    public var eventName: String
    /// The event name for a response with a 5xx status; such requests are always tracked,
    /// whatever ``sampleRate`` says. nil tracks them as ``eventName``, sampled. Default
    /// `server_error`.
    public var serverErrorEventName: String?
    /// Paths never tracked: an entry matches that path and every path below it (`/health`
    /// matches `/health` and `/health/db`, not `/healthz`). Default none.
    public var excludedPaths: [String]
    /// Decides for the remaining requests, from the method and raw path, whether to track them.
    /// Default: all.
    public var filter: (@Sendable (_ method: String, _ path: String) -> Bool)?
    /// The share of requests tracked, from 0 to 1. Default 1 (all).
    public var sampleRate: Double
    /// The browser session events attach to: `.latest` joins the visitor's latest session.
    /// Default nil (none).
    public var session: Session?

    /// Tracking with the given settings; every argument has the documented default.
    public init(
        eventName: String = "http_request", serverErrorEventName: String? = "server_error",
        excludedPaths: [String] = [], filter: (@Sendable (_ method: String, _ path: String) -> Bool)? = nil,
        sampleRate: Double = 1, session: Session? = nil
    ) {
        self.eventName = eventName
        self.serverErrorEventName = serverErrorEventName
        self.excludedPaths = excludedPaths
        self.filter = filter
        self.sampleRate = sampleRate
        self.session = session
    }

    /// Whether a request is tracked at all, decided before its handler runs.
    package func includes(method: String, path: String) -> Bool {
        let excluded = excludedPaths.contains { entry in
            path == entry || path.hasPrefix(entry.hasSuffix("/") ? entry : entry + "/")
        }
        return !excluded && (filter?(method, path) ?? true)
    }

    /// Queues the event for a finished request, if it is tracked. Never throws: a refused call
    /// is logged (an invalid event name loudly, a full queue or shut-down client at debug level).
    package func record(
        method: String, route: String?, status: Int, since start: ContinuousClock.Instant,
        identity: Identity?, client: HimetricaClient, logger: Logger
    ) {
        guard let identity, let route else { return }
        let name: String
        if status >= 500, let serverErrorEventName {
            name = serverErrorEventName
        } else {
            guard sampleRate >= 1 || Double.random(in: 0..<1) < sampleRate else { return }
            name = eventName
        }
        let elapsed = (ContinuousClock.now - start).components
        let milliseconds = (Double(elapsed.seconds) * 1e3 + Double(elapsed.attoseconds) / 1e15)
        let properties: JSONValue = [
            "method": .string(method), "route": .string(route), "status": .int(Int64(status)),
            "duration_ms": .double((milliseconds * 1000).rounded() / 1000),
        ]
        do {
            try client.track(name, identity: identity, properties: properties, session: session)
        } catch {
            if case .invalid = error {
                logger.warning("himetrica: request event not tracked: \(error)")
            } else {
                logger.debug("himetrica: request event not tracked: \(error)")
            }
        }
    }
}
