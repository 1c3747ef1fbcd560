#if DevServer  // a package trait (Package.swift)
/// A request that broke a documented rule: answered 400 with `message`, which names the field
/// and the rule it broke.
struct RuleError: Error, Equatable {
    let message: String
}

/// Who a request is about: exactly one of the three identity fields.
enum Identity: Equatable, Sendable {
    /// Himetrica's own user id (`hm_usr_...`).
    case userId(String)
    /// An email set by an earlier identify.
    case email(String)
    /// The browser visitor id.
    case visitorId(String)
}

/// How a tracked event attaches to a session.
enum SessionChoice: Equatable, Sendable {
    case none, latest, new
}

/// A validated `POST /track` body.
struct TrackRequest: Sendable {
    let identity: Identity
    let eventName: String
    let session: SessionChoice
}

/// A validated `POST /identify` body.
struct IdentifyRequest: Sendable {
    let identity: Identity
    /// `traits.userId`: the caller's stable external id.
    let externalId: String?
    let email: String?
    let name: String?
    /// Every other trait, kept as metadata.
    let metadata: [(String, JSONValue)]
}

/// The Server API's request rules, applied exactly as documented. A member whose value is
/// `null` counts as absent (for identities, `properties`, `timestamp` and `session`).
enum Validation {
    /// Largest accepted `properties`, in UTF-8 bytes of its compact serialization.
    static let maxPropertiesBytes = 10_240

    /// Parses `body` and requires a JSON object.
    static func object(from body: some Collection<UInt8>) throws(RuleError) -> JSONValue {
        guard let value = JSONValue.parse(body) else { throw RuleError(message: "body must be valid JSON") }
        guard value.isObject else { throw RuleError(message: "body must be a JSON object") }
        return value
    }

    /// The single identity of `body`: exactly one of `userId`, `email`, `visitorId`, a non-empty string.
    static func identity(of body: JSONValue) throws(RuleError) -> Identity {
        let fields = ["userId", "email", "visitorId"]
        let present = fields.compactMap { name in body.member(name).flatMap { $0 == .null ? nil : (name, $0) } }
        guard present.count == 1, let (name, value) = present.first else {
            throw RuleError(message: "exactly one of userId, email, visitorId is required")
        }
        guard let text = value.stringValue, !text.isEmpty else {
            throw RuleError(message: "\(name) must be a non-empty string")
        }
        switch name {
        case "userId": return .userId(text)
        case "email": return .email(text)
        default: return .visitorId(text)
        }
    }

    /// Checks a `POST /track` body.
    static func track(_ body: JSONValue) throws(RuleError) -> TrackRequest {
        let identity = try identity(of: body)
        guard let nameValue = body.member("eventName"), nameValue != .null else {
            throw RuleError(message: "eventName is required")
        }
        guard let eventName = nameValue.stringValue, !eventName.isEmpty else {
            throw RuleError(message: "eventName must be a non-empty string")
        }
        guard eventName.utf8.allSatisfy(isEventNameByte) else {
            throw RuleError(message: "eventName may contain only letters, digits, underscores and hyphens")
        }
        if let properties = body.member("properties"), properties != .null {
            guard properties.isObject else { throw RuleError(message: "properties must be a JSON object") }
            let size = properties.compact.utf8.count
            guard size <= maxPropertiesBytes else {
                throw RuleError(
                    message: "properties must be at most \(maxPropertiesBytes) bytes as compact JSON (got \(size))"
                )
            }
        }
        if let timestamp = body.member("timestamp"), timestamp != .null {
            guard let text = timestamp.stringValue, Timestamp.isValid(text) else {
                throw RuleError(
                    message: "timestamp must be an ISO 8601 date-time string (e.g. 2026-11-29T10:00:00Z)"
                )
            }
        }
        let session: SessionChoice
        switch body.member("session") {
        case nil, .null?: session = .none
        case .string("latest")?: session = .latest
        case .string("new")?: session = .new
        default: throw RuleError(message: "session must be \"latest\", \"new\" or null")
        }
        return TrackRequest(identity: identity, eventName: eventName, session: session)
    }

    /// Checks a `POST /identify` body.
    static func identify(_ body: JSONValue) throws(RuleError) -> IdentifyRequest {
        let identity = try identity(of: body)
        guard let traits = body.member("traits"), traits != .null else {
            throw RuleError(message: "traits is required")
        }
        guard case .object(let members) = traits else { throw RuleError(message: "traits must be a JSON object") }
        var externalId: String?
        var email: String?
        var name: String?
        var metadata: [(String, JSONValue)] = []
        for (key, value) in members {
            switch key {
            case "userId":
                guard let text = value.stringValue, !text.isEmpty else {
                    throw RuleError(message: "traits.userId must be a non-empty string")
                }
                externalId = text
            case "email":
                guard let text = value.stringValue, !text.isEmpty else {
                    throw RuleError(message: "traits.email must be a non-empty string")
                }
                email = text
            case "name":
                guard let text = value.stringValue else { throw RuleError(message: "traits.name must be a string") }
                name = text
            default:
                metadata.removeAll { $0.0 == key }
                metadata.append((key, value))
            }
        }
        return IdentifyRequest(identity: identity, externalId: externalId, email: email, name: name, metadata: metadata)
    }

    /// The `visitorId` query parameter of `GET /user-id`.
    static func visitorId(query: String?) throws(RuleError) -> String {
        guard let value = query, !value.isEmpty else {
            throw RuleError(message: "visitorId query parameter is required")
        }
        return value
    }

    /// True for bytes allowed in an event name: `[A-Za-z0-9_-]`.
    private static func isEventNameByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }
}
#endif
