#if Vapor  // a package trait (Package.swift)
import Himetrica
import HimetricaServerSupport
import Vapor

extension Application {
    /// Himetrica for this application: configure it once, then use `req.himetrica` in handlers
    /// and ``HimetricaMiddleware`` to track requests.
    ///
    /// ```swift
    /// try app.himetrica.configure(secretKey: Environment.get("HIMETRICA_SECRET_KEY")!)
    /// app.middleware.use(HimetricaMiddleware())
    /// ```
    public var himetrica: HimetricaIntegration { HimetricaIntegration(application: self) }

    /// The Himetrica client of an application and how it finds a request's visitor.
    public struct HimetricaIntegration: Sendable {
        let application: Application

        struct State: Sendable {
            let client: HimetricaClient
            let visitor: [HimetricaVisitorSource<Request>]
        }

        struct Key: StorageKey {
            typealias Value = State
        }

        /// Creates the client and ties it to the application: `app.asyncShutdown()` delivers
        /// what is still queued (waiting at most five seconds) and shuts it down.
        ///
        /// - Parameters:
        ///   - visitor: where a request's visitor is found, first match wins; default the
        ///     `hm_vid` cookie.
        /// - Throws: ``ValidationError`` for a malformed key or configuration.
        public func configure(
            secretKey: String, configuration: HimetricaClient.Configuration = .init(),
            visitor: [HimetricaVisitorSource<Request>] = HimetricaVisitorSource.standard
        ) throws {
            use(try HimetricaClient(secretKey: secretKey, configuration: configuration), visitor: visitor)
        }

        /// Uses an existing client, shutting it down with the application like ``configure(secretKey:configuration:visitor:)``.
        public func use(
            _ client: HimetricaClient, visitor: [HimetricaVisitorSource<Request>] = HimetricaVisitorSource.standard
        ) {
            application.storage[Key.self] = State(client: client, visitor: visitor)
            application.lifecycle.use(Shutdown(client: client))
        }

        /// The configured client. Calling it before ``configure(secretKey:configuration:visitor:)``
        /// is a programming error and stops the process.
        public var client: HimetricaClient { state.client }

        var state: State {
            guard let state = application.storage[Key.self] else {
                fatalError("Himetrica is not configured: call app.himetrica.configure(secretKey:) first")
            }
            return state
        }
    }

    /// Flushes and shuts the client down when the application shuts down.
    private struct Shutdown: LifecycleHandler {
        let client: HimetricaClient

        func shutdown(_ application: Application) {
            client.shutdownBlocking()
        }

        func shutdownAsync(_ application: Application) async {
            await client.shutdown()
        }
    }
}

extension Request {
    /// The application's Himetrica client bound to this request's visitor (found by the
    /// sources given to `app.himetrica.configure`, at the time of the call). Using it before
    /// `app.himetrica.configure` is a programming error and stops the process.
    public var himetrica: HimetricaRequestHandle {
        let state = application.himetrica.state
        return HimetricaRequestHandle(client: state.client, identity: himetricaIdentity(state.visitor))
    }

    func himetricaIdentity(_ sources: [HimetricaVisitorSource<Request>]) -> HimetricaClient.Identity? {
        HimetricaVisitorSource.identity(
            in: sources, for: self, cookie: { cookies[$0]?.string }, header: { headers.first(name: $0) })
    }
}
#endif
