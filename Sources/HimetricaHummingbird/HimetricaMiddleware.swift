#if Hummingbird  // a package trait (Package.swift)
import Himetrica
import HimetricaServerSupport
import HTTPTypes
import Hummingbird

/// A request context that hands handlers the Himetrica client bound to the request's visitor.
///
/// ```swift
/// struct AppContext: HimetricaRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var himetrica: HimetricaRequestHandle?
///     init(source: Source) { coreContext = .init(source: source) }
/// }
/// ```
public protocol HimetricaRequestContext: RequestContext {
    /// Set by ``HimetricaMiddleware`` before the handler runs; nil without the middleware.
    var himetrica: HimetricaRequestHandle? { get set }
}

/// What a custom ``HimetricaVisitorSource`` receives in Hummingbird: the request and its context
/// (where authentication middleware keeps the signed-in user).
public typealias HimetricaHummingbirdInput<Context: RequestContext> = (request: Request, context: Context)

/// Tracks each request as an event about its visitor, as ``HimetricaRequestTracking`` describes,
/// with the route pattern from `context.endpointPath` (for example `/users/{id}`), and, when the
/// context is a ``HimetricaRequestContext``, gives handlers `context.himetrica`.
///
/// Run the client as a service of the application so graceful shutdown delivers what is queued:
///
/// ```swift
/// let himetrica = try HimetricaClient(secretKey: secretKey)
/// let router = Router(context: AppContext.self)
/// router.add(middleware: HimetricaMiddleware(client: himetrica))
/// let app = Application(router: router, services: [himetrica])
/// ```
///
/// The visitor is found before the handler runs, from what the request and context hold then:
/// add the middleware after any authentication middleware a custom source reads.
public struct HimetricaMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The client events go to.
    public let client: HimetricaClient
    /// Where a request's visitor is found, first match wins.
    public let visitor: [HimetricaVisitorSource<HimetricaHummingbirdInput<Context>>]
    /// What is tracked.
    public let tracking: HimetricaRequestTracking
    private let bind: @Sendable (inout Context, HimetricaRequestHandle) -> Void

    /// A middleware tracking requests through `client`, finding the visitor from `visitor`
    /// (default the `hm_vid` cookie).
    public init(
        client: HimetricaClient,
        visitor: [HimetricaVisitorSource<HimetricaHummingbirdInput<Context>>] = HimetricaVisitorSource.standard,
        tracking: HimetricaRequestTracking = HimetricaRequestTracking()
    ) {
        self.init(client: client, visitor: visitor, tracking: tracking) { _, _ in }
    }

    private init(
        client: HimetricaClient, visitor: [HimetricaVisitorSource<HimetricaHummingbirdInput<Context>>],
        tracking: HimetricaRequestTracking, bind: @escaping @Sendable (inout Context, HimetricaRequestHandle) -> Void
    ) {
        self.client = client
        self.visitor = visitor
        self.tracking = tracking
        self.bind = bind
    }

    /// Binds the handle, passes the request on, and queues its event once the response (or
    /// error) is there.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let identity = HimetricaVisitorSource.identity(
            in: visitor, for: (request, context), cookie: { request.cookies[$0]?.value },
            header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } })
        var context = context
        bind(&context, HimetricaRequestHandle(client: client, identity: identity))
        guard tracking.includes(method: request.method.rawValue, path: request.uri.path) else {
            return try await next(request, context)
        }
        let start = ContinuousClock.now
        func record(_ status: HTTPResponse.Status) {
            // Hummingbird names unmatched requests "NotFound"; they have no route pattern.
            let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 }
            tracking.record(
                method: request.method.rawValue, route: route, status: status.code, since: start,
                identity: identity, client: client, logger: context.logger)
        }
        do {
            let response = try await next(request, context)
            record(response.status)
            return response
        } catch {
            record((error as? any HTTPResponseError)?.status ?? .internalServerError)
            throw error
        }
    }
}

extension HimetricaMiddleware where Context: HimetricaRequestContext {
    /// A middleware tracking requests through `client`, finding the visitor from `visitor`
    /// (default the `hm_vid` cookie), and setting `context.himetrica` for handlers.
    public init(
        client: HimetricaClient,
        visitor: [HimetricaVisitorSource<HimetricaHummingbirdInput<Context>>] = HimetricaVisitorSource.standard,
        tracking: HimetricaRequestTracking = HimetricaRequestTracking()
    ) {
        self.init(client: client, visitor: visitor, tracking: tracking) { context, handle in context.himetrica = handle }
    }
}
#endif
