/// Sizes and counts the rules enforce, in one place.
public enum Limits {
    /// The largest `properties` (or `traits`) object, counted as the UTF-8 bytes of its compact
    /// JSON serialization (no whitespace outside strings). The API documents "max 10KB".
    public static let maxPropertiesBytes = 10 * 1024
    /// The deepest nesting of arrays and objects inside `properties` or `traits`.
    public static let maxNestingDepth = 32
    /// The longest event name, in bytes.
    public static let maxEventNameBytes = 255
    /// The longest identity value (user id, email or visitor id), in bytes.
    public static let maxIdentityBytes = 512
}
