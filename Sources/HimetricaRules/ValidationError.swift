/// Input that breaks one of the Server API's rules.
///
/// Every surface (Swift, C, Python, Node, CLI) reports the same `message` for the same input:
/// the rules live here and nowhere else.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The offending field, as the API names it, with a path into nested JSON where it helps
    /// (for example `properties.items[2]`).
    public let field: String
    /// The rule that was broken, in words (for example `must not be empty`).
    public let rule: String

    /// Creates an error for `field` breaking `rule`.
    package init(field: String, rule: String) {
        self.field = field
        self.rule = rule
    }

    /// `field: rule`, the text every surface shows.
    public var message: String { "\(field): \(rule)" }

    /// The ``message``.
    public var description: String { message }
}

/// The name `import Himetrica` gives ``ValidationError``, prefixed because ArgumentParser (and
/// others) have a `ValidationError` too. The payload of `HimetricaError.invalid`.
public typealias HimetricaValidationError = ValidationError
