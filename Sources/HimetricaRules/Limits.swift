/// Sizes and counts the rules enforce, in one place.
package enum Limits {
    /// The largest `properties` (or `traits`) object, counted as the UTF-8 bytes of its compact
    /// JSON serialization (no whitespace outside strings). The API documents "max 10KB".
    package static let maxPropertiesBytes = 10 * 1024
    /// The deepest nesting of arrays and objects inside `properties` or `traits`.
    package static let maxNestingDepth = 32
    /// The longest event name, in bytes.
    package static let maxEventNameBytes = 255
    /// The longest identity value (user id, email or visitor id), in bytes.
    package static let maxIdentityBytes = 512
}
