/// The rule for `eventName`: letters, digits, underscores and hyphens.
package enum EventName {
    /// Checks `name` against the API's event name rule.
    package static func validate(_ name: String) throws(ValidationError) {
        let utf8 = name.utf8
        if utf8.isEmpty {
            throw ValidationError(field: "eventName", rule: "must not be empty")
        }
        if utf8.count > Limits.maxEventNameBytes {
            throw ValidationError(field: "eventName", rule: "must be at most \(Limits.maxEventNameBytes) bytes")
        }
        for byte in utf8 where !isWordCharacter(byte) {
            throw ValidationError(
                field: "eventName", rule: "may contain only letters, digits, '_' and '-'")
        }
    }

    /// Whether `bytes` are a valid event name (the fast check; ``validate(_:)`` says why not).
    package static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= Limits.maxEventNameBytes else { return false }
        for byte in bytes where !isWordCharacter(byte) { return false }
        return true
    }

    /// Whether `b` is a letter, a digit, `_` or `-`: the characters of event names (and of
    /// secret keys).
    static func isWordCharacter(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
