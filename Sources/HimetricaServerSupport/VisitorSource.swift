import Himetrica
public import HimetricaRules

/// One place the middleware looks for who a request is about.
///
/// Sources are tried in order and the first that yields a valid identity wins, so an app can
/// prefer its signed-in user and fall back to the browser's visitor id:
///
/// ```swift
/// [.custom { req in req.auth.get(User.self).map { .email($0.email) } }, .cookie("hm_vid")]
/// ```
///
/// `Input` is what a custom source receives: Vapor's `Request`, or Hummingbird's request and
/// context.
public enum HimetricaVisitorSource<Input>: Sendable {
    /// A cookie holding the browser tracker's visitor id (the tracker's cookie is `hm_vid`).
    case cookie(String)
    /// A request header holding the visitor id, for front ends that send it explicitly.
    case header(String)
    /// An app-provided mapping from the request to an identity, for example from the
    /// authenticated user to `.userId("hm_usr_…")` or `.email(…)`; nil when it has none.
    case custom(@Sendable (Input) -> Identity?)

    /// The default: the browser tracker's `hm_vid` cookie.
    public static var standard: [Self] { [.cookie("hm_vid")] }

    /// The longest visitor id taken from a cookie or header, in bytes.
    public static var maxVisitorIdLength: Int { 128 }

    /// Whether `value` looks like a tracker visitor id: 1 to ``maxVisitorIdLength`` bytes of
    /// ASCII letters, digits, `_`, `-` and `.` (a UUID-like string). Anything else is ignored.
    public static func isValidVisitorId(_ value: String) -> Bool {
        let utf8 = value.utf8
        return !utf8.isEmpty && utf8.count <= maxVisitorIdLength
            && utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                    true
                default:
                    false
                }
            }
    }

    /// The identity the first matching source in `sources` finds, or nil. Malformed cookie and
    /// header values and invalid custom identities are skipped, never an error.
    ///
    /// - Parameters:
    ///   - cookie: the value of the named cookie, as the framework parses it.
    ///   - header: the first value of the named header.
    package static func identity(
        in sources: [Self], for input: Input, cookie: (String) -> String?, header: (String) -> String?
    ) -> Identity? {
        for source in sources {
            switch source {
            case .cookie(let name):
                if let value = cookie(name), isValidVisitorId(value) { return .visitorId(value) }
            case .header(let name):
                if let value = header(name), isValidVisitorId(value) { return .visitorId(value) }
            case .custom(let resolve):
                if let identity = resolve(input), (try? identity.validate()) != nil { return identity }
            }
        }
        return nil
    }
}
