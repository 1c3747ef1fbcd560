#if Vapor  // a package trait (Package.swift)
import Himetrica
import HimetricaServerSupport
import Vapor

/// Tracks each request as an event about its visitor, as ``HimetricaRequestTracking`` describes,
/// with the route pattern from `req.route` (for example `/users/:id`).
///
/// Needs `app.himetrica.configure(...)`; without it requests pass through untracked. The
/// visitor is found after the handler ran, so authentication middleware on inner route groups
/// has set the user a custom visitor source may read.
///
/// ```swift
/// app.middleware.use(HimetricaMiddleware(HimetricaRequestTracking(excludedPaths: ["/health"])))
/// ```
public struct HimetricaMiddleware: AsyncMiddleware {
    /// What is tracked.
    public let tracking: HimetricaRequestTracking

    /// A middleware tracking requests as `tracking` says.
    public init(_ tracking: HimetricaRequestTracking = HimetricaRequestTracking()) {
        self.tracking = tracking
    }

    /// Passes the request on and queues its event once the response (or error) is there.
    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let state = request.application.storage[Application.HimetricaIntegration.Key.self],
            tracking.includes(method: request.method.rawValue, path: request.url.path)
        else {
            return try await next.respond(to: request)
        }
        let start = ContinuousClock.now
        func record(_ status: HTTPResponseStatus) {
            tracking.record(
                method: request.method.rawValue,
                route: request.route.map { "/" + $0.path.map(\.description).joined(separator: "/") },
                status: Int(status.code), since: start, identity: request.himetricaIdentity(state.visitor),
                client: state.client, logger: request.logger)
        }
        do {
            let response = try await next.respond(to: request)
            record(response.status)
            return response
        } catch {
            record((error as? any AbortError)?.status ?? .internalServerError)
            throw error
        }
    }
}
#endif
