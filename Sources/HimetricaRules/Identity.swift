/// Who an event or identify call is about: exactly one of the API's three identity fields.
public enum Identity: Sendable, Hashable {
    /// Himetrica's own user id (`hm_usr_...`), as returned by `GET /user-id`.
    case userId(String)
    /// An email address the visitor was identified with before.
    case email(String)
    /// The browser visitor id (the tracker's `hm_vid` cookie).
    case visitorId(String)

    /// The prefix every Himetrica user id starts with.
    package static let userIdPrefix = "hm_usr_"

    /// The JSON field the API takes this identity in.
    package var field: String { kind.field }

    /// The identity's value.
    package var value: String {
        switch self {
        case .userId(let v), .email(let v), .visitorId(let v): v
        }
    }

    /// Picks the one identity given among three optional fields, as the C, Python and Node
    /// surfaces receive them.
    ///
    /// - Throws: ``ValidationError`` when none or more than one is given, or the one given is
    ///   invalid.
    package static func exactlyOne(userId: String?, email: String?, visitorId: String?) throws(ValidationError) -> Identity {
        let (kind, value) = try Kind.one(userId, email, visitorId)
        let identity = kind.identity(value)
        try identity.validate()
        return identity
    }

    /// ``exactlyOne(userId:email:visitorId:)`` for values given as UTF-8 bytes (valid UTF-8,
    /// as a C surface checks them first): checked on the bytes, then made a `String` once.
    package static func exactlyOne(
        userIdBytes: UnsafeBufferPointer<UInt8>?, emailBytes: UnsafeBufferPointer<UInt8>?,
        visitorIdBytes: UnsafeBufferPointer<UInt8>?
    ) throws(ValidationError) -> Identity {
        let (kind, bytes) = try Kind.one(userIdBytes, emailBytes, visitorIdBytes)
        if let error = kind.problem(bytes) { throw error }
        return kind.identity(String(decoding: bytes, as: UTF8.self))
    }

    /// Checks the value: not empty, not too long, no control characters; a user id must be
    /// Himetrica's (`hm_usr_...`), an email must contain `@`.
    package func validate() throws(ValidationError) {
        var value = self.value
        if let error = value.withUTF8({ kind.problem($0) }) { throw error }
    }

    /// Checks an identity-like value (also used for the visitor id of a user-id lookup).
    package static func validate(_ value: String, field: String) throws(ValidationError) {
        var value = value
        if let error = value.withUTF8({ problem($0, field: field) }) { throw error }
    }

    /// The rule an identity-like value breaks, if any, checked on its UTF-8 bytes.
    static func problem(_ bytes: UnsafeBufferPointer<UInt8>, field: String) -> ValidationError? {
        if bytes.isEmpty {
            return ValidationError(field: field, rule: "must not be empty")
        }
        if bytes.count > Limits.maxIdentityBytes {
            return ValidationError(field: field, rule: "must be at most \(Limits.maxIdentityBytes) bytes")
        }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return ValidationError(field: field, rule: "must not contain control characters")
        }
        if bytes.allSatisfy({ $0 == 0x20 }) {
            return ValidationError(field: field, rule: "must not be blank")
        }
        return nil
    }

    private var kind: Kind {
        switch self {
        case .userId: .userId
        case .email: .email
        case .visitorId: .visitorId
        }
    }

    /// Which of the three fields an identity is given in.
    private enum Kind {
        case userId, email, visitorId

        var field: String {
            switch self {
            case .userId: "userId"
            case .email: "email"
            case .visitorId: "visitorId"
            }
        }

        func identity(_ value: String) -> Identity {
            switch self {
            case .userId: .userId(value)
            case .email: .email(value)
            case .visitorId: .visitorId(value)
            }
        }

        /// The one field given among three (an empty value counts as given).
        static func one<Value>(_ userId: Value?, _ email: Value?, _ visitorId: Value?) throws(ValidationError) -> (Kind, Value) {
            let count = (userId == nil ? 0 : 1) + (email == nil ? 0 : 1) + (visitorId == nil ? 0 : 1)
            guard count == 1 else {
                throw ValidationError(
                    field: "identity",
                    rule: count == 0
                        ? "one of userId, email or visitorId is required"
                        : "give only one of userId, email or visitorId")
            }
            if let userId { return (.userId, userId) }
            if let email { return (.email, email) }
            return (.visitorId, visitorId!)
        }

        /// The rule the value breaks, if any: the value rules, then the field's own (a user id
        /// must be Himetrica's, `hm_usr_...`; an email must contain `@`).
        func problem(_ bytes: UnsafeBufferPointer<UInt8>) -> ValidationError? {
            if let error = Identity.problem(bytes, field: field) { return error }
            switch self {
            case .userId where !bytes.starts(with: Identity.userIdPrefix.utf8):
                return ValidationError(
                    field: field,
                    rule: "must be a Himetrica user id (hm_usr_...); pass your own id as traits.userId")
            case .email where !bytes.contains(UInt8(ascii: "@")):
                return ValidationError(field: field, rule: "must be an email address")
            default:
                return nil
            }
        }
    }
}
