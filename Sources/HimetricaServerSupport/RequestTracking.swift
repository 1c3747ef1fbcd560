import Himetrica
import HimetricaRules
import Logging

/// What the middleware records about each request it sees: the one request-tracking contract
/// every Himetrica middleware keeps (Swift, Node, Python), written down as data in
/// `Tests/vectors/request-tracking.json`.
///
/// Each tracked request becomes one event about the request's visitor with the properties
/// `method`, `route` (the matched route pattern such as `/users/:id`, never the raw path, so no
/// ids or personal data; null when the request matched no route), `status` and `durationMs`
/// (milliseconds until the handler returned its response, to the microsecond). A response with
/// a 5xx status is tracked as ``serverErrorEventName`` and never sampled out. Requests without a
/// visitor are not tracked. Tracking only queues the event: it never throws into the request
/// and never waits for the network.
public struct HimetricaRequestTracking: Sendable {
    /// The event name for a request. Default `http_request`.
    public var eventName: String
    /// The event name for a response with a 5xx status (a thrown error counts as its status,
    /// else 500); such requests are always tracked, whatever ``sampleRate`` says. nil tracks
    /// them as ``eventName``, sampled. Default `server_error`.
    public var serverErrorEventName: String?
    /// Paths never tracked: an entry matches that path and every path below it (`/health`
    /// matches `/health` and `/health/db`, not `/healthz`). Default none.
    public var excludedPaths: [String]
    /// Decides for the remaining requests, from the method and raw path, whether to track them.
    /// Default: all.
    public var filter: (@Sendable (_ method: String, _ path: String) -> Bool)?
    /// The share of requests below status 500 that are tracked, from 0 to 1. Default 1 (all).
    public var sampleRate: Double
    /// The browser session events attach to: `.latest` joins the visitor's latest session.
    /// Default nil (none).
    public var session: HimetricaClient.Session?

    /// Tracking with the given settings; every argument has the documented default.
    public init(
        eventName: String = "http_request", serverErrorEventName: String? = "server_error",
        excludedPaths: [String] = [], filter: (@Sendable (_ method: String, _ path: String) -> Bool)? = nil,
        sampleRate: Double = 1, session: HimetricaClient.Session? = nil
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
        !isExcluded(path) && (filter?(method, path) ?? true)
    }

    /// Whether `path` is `excludedPaths` entry or below one.
    package func isExcluded(_ path: String) -> Bool {
        excludedPaths.contains { entry in
            path == entry || path.hasPrefix(entry.hasSuffix("/") ? entry : entry + "/")
        }
    }

    /// The event a finished request is tracked as, or nil when sampling leaves it out.
    /// `draw` is a uniform random number in `0..<1`, handed in so the rule is exact to test.
    package func eventName(status: Int, draw: Double) -> String? {
        if status >= 500, let serverErrorEventName { return serverErrorEventName }
        return draw < sampleRate ? eventName : nil
    }

    /// The event's properties, as the contract names them.
    package static func properties(method: String, route: String?, status: Int, duration: Duration) -> HimetricaClient.JSONValue {
        let (seconds, attoseconds) = duration.components
        let microseconds = Double(seconds) * 1e6 + Double(attoseconds / 1_000_000_000_000)
        return [
            "method": .string(method), "route": route.map { .string($0) } ?? .null, "status": .int(Int64(status)),
            "durationMs": .double(microseconds / 1000),
        ]
    }

    /// Queues the event for a finished request, if it is tracked. Never throws: a refused call
    /// is logged (an invalid event name loudly, a full queue or shut-down client at debug level).
    package func record(
        method: String, route: String?, status: Int, since start: ContinuousClock.Instant,
        identity: HimetricaClient.Identity?, client: HimetricaClient, logger: Logger
    ) {
        guard let identity, let name = eventName(status: status, draw: Double.random(in: 0..<1)) else { return }
        let properties = Self.properties(method: method, route: route, status: status, duration: ContinuousClock.now - start)
        do {
            try client.track(name, identity: identity, properties: properties, session: session)
        } catch {
            if case .invalid = error {
                logger.warning("request event not tracked", metadata: ["event": "\(name)", "error": "\(error)"])
            } else {
                logger.debug("request event not tracked", metadata: ["event": "\(name)", "error": "\(error)"])
            }
        }
    }
}
