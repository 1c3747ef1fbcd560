import HimetricaRules

/// The API's base URL, checked: `https://`, or `http://` only to a loopback host unless
/// insecure HTTP is allowed explicitly.
struct BaseURL: Sendable {
    /// The URL without a trailing slash; endpoint paths are appended to it.
    let text: String

    init(_ url: String, allowInsecureHTTP: Bool) throws(ValidationError) {
        let lower = url.lowercased()
        let isHTTPS = lower.hasPrefix("https://")
        guard isHTTPS || lower.hasPrefix("http://") else {
            throw ValidationError(field: "endpoint", rule: "must be an http:// or https:// URL")
        }
        guard url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), !url.contains("?"), !url.contains("#") else {
            throw ValidationError(field: "endpoint", rule: "must be a plain URL without spaces, query or fragment")
        }
        let afterScheme = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard afterScheme.count >= 3, !afterScheme[2].isEmpty else {
            throw ValidationError(field: "endpoint", rule: "must name a host")
        }
        if !isHTTPS, !allowInsecureHTTP, !Self.isLoopback(authority: String(afterScheme[2])) {
            throw ValidationError(
                field: "endpoint",
                rule: "http:// is only allowed to a loopback host (set allow_insecure_http to override)")
        }
        text = url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// The `GET /user-id` URL for `visitorId`, the id percent-encoded.
    func userIdURL(visitorId: String) -> String {
        text + Endpoint.userId.path + "?visitorId=" + Self.percentEncoded(visitorId)
    }

    /// `text` as a URL query value: every byte but the unreserved ones (RFC 3986) as `%XX`.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// Whether `authority` (host and optional port) names this machine.
    static func isLoopback(authority: String) -> Bool {
        let withoutUser = authority.split(separator: "@").last.map(String.init) ?? authority
        let host: Substring
        if withoutUser.hasPrefix("[") {
            host = withoutUser.dropFirst().prefix { $0 != "]" }
            return host == "::1"
        }
        host = withoutUser.prefix { $0 != ":" }
        if host.lowercased() == "localhost" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
