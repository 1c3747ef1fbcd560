#if DevServer  // a package trait (Package.swift)
import Testing

@testable import HimetricaDevServer

/// The JSON reader/writer and the timestamp rule, without a server.
@Suite struct RuleUnitTests {
    @Test func jsonRoundTripsCompactly() {
        let text = #"{ "b" : [1, -2.5e3, true, null], "a": "é\n\"\u0001\/" }"#
        let value = JSONValue.parse(text)
        #expect(value?.compact == #"{"b":[1,-2.5e3,true,null],"a":"é\n\"\u0001/"}"#)
        for bad in ["", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\\x\"", "{\"a\":1}x", "\"\u{01}\"", "nul", "\"\\ud800\""] {
            #expect(JSONValue.parse(bad) == nil, "\(bad)")
        }
        #expect(JSONValue.parse(String(repeating: "[", count: 300) + String(repeating: "]", count: 300)) == nil)
        #expect(JSONValue.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test func timestamps() {
        for good in ["2026-11-29T10:00:00Z", "2026-11-29T10:00:00.1Z", "2026-11-29T10:00:00.123456789+05:30",
                     "2024-02-29T00:00:00-0800", "2026-12-31T23:59:59Z"] {
            #expect(Timestamp.isValid(good), "\(good)")
        }
        for bad in ["", "2026-11-29", "2026-11-29T10:00Z", "2026-11-29T10:00:00", "2026-13-01T00:00:00Z",
                    "2025-02-29T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T10:00:00.Z", "2026-11-29 10:00:00Z",
                    "2026-11-29T10:00:00+5:00", "2026-11-29T10:00:00Zjunk"] {
            #expect(!Timestamp.isValid(bad), "\(bad)")
        }
    }
}
#endif
