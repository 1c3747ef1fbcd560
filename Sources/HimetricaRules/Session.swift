/// Which browser session a server-side event attaches to. Omitted means no session.
public enum Session: String, Sendable, Hashable, CaseIterable {
    /// The visitor's most recent browser session, if any.
    case latest
    /// A new minimal session created for this event.
    case new

    /// Parses the API's spelling (`"latest"` or `"new"`).
    package static func parse(_ text: String) throws(ValidationError) -> Session {
        guard let session = Session(rawValue: text) else {
            throw ValidationError(field: "session", rule: "must be \"latest\" or \"new\" (or omitted)")
        }
        return session
    }
}
