import HimetricaRules

/// Where the shared rate limit's Redis is: `redis://[user:password@]host:port[/db]`.
///
/// The password is kept for AUTH and never shown: ``redacted`` (used in every log line and
/// error) replaces it with `***`. `rediss://` (TLS) is refused: hiredis 0.14, the client
/// library, cannot do TLS.
struct RedisURL: Sendable, Equatable {
    var host: String
    var port: Int
    var user: String?
    var password: String?
    var database: Int

    /// The option's name in every error.
    static let field = "shared_limit"

    /// Parses `text`. Errors name `shared_limit` and the rule, never the password.
    init(_ text: String) throws(ValidationError) {
        func fail(_ rule: String) -> ValidationError { ValidationError(field: Self.field, rule: rule) }
        let shape = "must be redis://[user:password@]host:port[/db]"
        if text.lowercased().hasPrefix("rediss://") {
            throw fail("rediss:// (TLS) is not supported: the Redis client library (hiredis 0.14) has no TLS; use redis:// over a trusted network or a TLS tunnel")
        }
        guard text.lowercased().hasPrefix("redis://") else { throw fail(shape) }
        var rest = Substring(text.dropFirst("redis://".count))
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        // The credentials end at the last '@', so a password may contain '@'.
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = credentials[..<colon]
                user = name.isEmpty ? nil : String(name)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                throw fail("\(shape) (credentials need a ':' before the password)")
            }
        }
        let hostText: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail(shape) }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw fail("\(shape) (the port is required)") }
            portText = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw fail("\(shape) (the port is required)") }
            hostText = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !hostText.isEmpty else { throw fail("\(shape) (the host is missing)") }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw fail("\(shape) (the port must be 1 to 65535)")
        }
        if path.isEmpty {
            database = 0
        } else {
            guard let db = Int(path), db >= 0, db <= 1_000_000 else {
                throw fail("\(shape) (the database must be a number)")
            }
            database = db
        }
        host = String(hostText)
        self.port = port
    }

    /// The URL as it may be shown: the password (if any) as `***`.
    var redacted: String {
        var text = "redis://"
        if user != nil || password != nil { text += (user ?? "") + ":***@" }
        text += host.contains(":") ? "[\(host)]" : host
        return text + ":\(port)" + (database == 0 ? "" : "/\(database)")
    }
}
