/// The rule for secret keys, and the only way one is ever shown.
package enum SecretKey {
    /// The prefix every Server API secret key starts with.
    package static let prefix = "hm_sk_"

    /// Checks that `key` looks like a secret key. The message never contains the key.
    package static func validate(_ key: String) throws(ValidationError) {
        let utf8 = key.utf8
        guard key.hasPrefix(prefix), utf8.count > prefix.utf8.count, utf8.count <= 256,
            utf8.allSatisfy(EventName.isWordCharacter)
        else {
            throw ValidationError(
                field: "secretKey",
                rule: "must be a Himetrica secret key (hm_sk_ followed by letters, digits, '_' or '-')")
        }
    }

    /// The key as it may appear in output: `hm_sk_…` and its last four characters at most.
    package static func masked(_ key: String) -> String {
        guard key.hasPrefix(prefix), key.count >= prefix.count + 8 else { return prefix + "…" }
        return prefix + "…" + key.suffix(4)
    }

    /// A stable, one-way name for `key`: `fp_` and the first 16 hex digits of its SHA-256.
    /// Spool rows and shared rate-limit keys carry it instead of the key, so neither a spool
    /// file nor a Redis database ever holds a key.
    package static func fingerprint(_ key: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text = "fp_"
        for byte in SHA256.hash(key.utf8).prefix(8) {
            text.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
            text.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
        }
        return text
    }
}
