/// Who an event or identify call is about: exactly one of the API's three identity fields.
public enum Identity: Sendable, Hashable {
    /// Himetrica's own user id (`hm_usr_...`), as returned by `GET /user-id`.
    case userId(String)
    /// An email address the visitor was identified with before.
    case email(String)
    /// The browser visitor id (the tracker's `hm_vid` cookie).
    case visitorId(String)

    /// The prefix every Himetrica user id starts with.
    public static let userIdPrefix = "hm_usr_"

    /// The JSON field the API takes this identity in.
    public var field: String {
        switch self {
        case .userId: "userId"
        case .email: "email"
        case .visitorId: "visitorId"
        }
    }

    /// The identity's value.
    public var value: String {
        switch self {
        case .userId(let v), .email(let v), .visitorId(let v): v
        }
    }

    /// Picks the one identity given among three optional fields, as the C, Python and Node
    /// surfaces receive them.
    ///
    /// - Throws: ``ValidationError`` when none or more than one is given, or the one given is
    ///   invalid.
    public static func exactlyOne(userId: String?, email: String?, visitorId: String?) throws(ValidationError) -> Identity {
        let count = (userId == nil ? 0 : 1) + (email == nil ? 0 : 1) + (visitorId == nil ? 0 : 1)
        guard count == 1 else {
            throw ValidationError(
                field: "identity",
                rule: count == 0
                    ? "one of userId, email or visitorId is required"
                    : "give only one of userId, email or visitorId")
        }
        let identity: Identity =
            if let userId { .userId(userId) } else if let email { .email(email) } else { .visitorId(visitorId!) }
        try identity.validate()
        return identity
    }

    /// Checks the value: not empty, not too long, no control characters; a user id must be
    /// Himetrica's (`hm_usr_...`), an email must contain `@`.
    public func validate() throws(ValidationError) {
        try Self.validate(value, field: field)
        switch self {
        case .userId(let v) where !v.hasPrefix(Self.userIdPrefix):
            throw ValidationError(
                field: field,
                rule: "must be a Himetrica user id (hm_usr_...); pass your own id as traits.userId")
        case .email(let v) where !v.utf8.contains(UInt8(ascii: "@")):
            throw ValidationError(field: field, rule: "must be an email address")
        default:
            break
        }
    }

    /// Checks an identity-like value (also used for the visitor id of a user-id lookup).
    public static func validate(_ value: String, field: String) throws(ValidationError) {
        let utf8 = value.utf8
        if utf8.isEmpty {
            throw ValidationError(field: field, rule: "must not be empty")
        }
        if utf8.count > Limits.maxIdentityBytes {
            throw ValidationError(field: field, rule: "must be at most \(Limits.maxIdentityBytes) bytes")
        }
        if utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw ValidationError(field: field, rule: "must not contain control characters")
        }
        if utf8.allSatisfy({ $0 == 0x20 }) {
            throw ValidationError(field: field, rule: "must not be blank")
        }
    }
}
