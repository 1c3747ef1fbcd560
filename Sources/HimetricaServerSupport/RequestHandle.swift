import FoundationEssentials
public import Himetrica
public import HimetricaRules

/// The Himetrica client bound to one request's visitor: what a handler gets as
/// `req.himetrica` (Vapor) or `context.himetrica` (Hummingbird).
///
/// Calls are about ``identity``; when the request has none (no valid `hm_vid` cookie, header or
/// resolver match) they throw ``HimetricaError/invalid(_:)`` with field `identity`. Use
/// ``client`` for calls about someone else.
public struct HimetricaRequestHandle: Sendable {
    /// The client the calls go to.
    public let client: HimetricaClient
    /// Who the request is about, if anyone.
    public let identity: Identity?

    /// A handle for calls about `identity` through `client`.
    public init(client: HimetricaClient, identity: Identity?) {
        self.client = client
        self.identity = identity
    }

    /// Queues a custom event about the request's visitor. Returns at once.
    public func track(
        _ eventName: String, properties: JSONValue? = nil, timestamp: Date? = nil, session: Session? = nil
    ) throws(HimetricaError) {
        try client.track(eventName, identity: try bound(), properties: properties, timestamp: timestamp, session: session)
    }

    /// Queues an update of the request's visitor's traits (`name`, `email`, `userId` — your own
    /// stable id — and any others). Returns at once.
    public func identify(traits: JSONValue) throws(HimetricaError) {
        try client.identify(try bound(), traits: traits)
    }

    /// Himetrica's user id (`hm_usr_...`) for the request's visitor: looked up (and cached) for a
    /// visitor id, returned as is when the identity already is a user id.
    ///
    /// - Throws: ``HimetricaError/notFound`` for an unknown visitor, ``HimetricaError/invalid(_:)``
    ///   when the identity is an email (it cannot be looked up), and the client's other errors.
    public func userId(timeout: Duration = .seconds(10)) async throws(HimetricaError) -> String {
        switch try bound() {
        case .visitorId(let visitorId):
            return try await client.userId(forVisitor: visitorId, timeout: timeout)
        case .userId(let userId):
            return userId
        case .email:
            throw .invalid(ValidationError(field: "identity", rule: "a user id can only be looked up for a visitor id"))
        }
    }

    private func bound() throws(HimetricaError) -> Identity {
        guard let identity else {
            throw .invalid(
                ValidationError(field: "identity", rule: "the request has no Himetrica visitor (cookie, header or resolver)"))
        }
        return identity
    }
}
