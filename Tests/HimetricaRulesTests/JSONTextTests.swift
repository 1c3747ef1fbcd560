import HimetricaRules
import Testing

@Suite struct JSONTextTests {
    @Test func removesWhitespaceKeepsTokensByteForByte() throws {
        let text = " \n{ \"a\" :\t[ 1 , 2.50 , -0 , 1E+3 , 0.0e-0 , 12345678901234567890123 ] ,\r\n \"b\" : \"x  y\\u00E9\\n\\/ é\" , \"c\" : { } , \"d\" : [ ] , \"e\" : null , \"f\":true,\"g\":false }\n "
        #expect(try compact(text)
            == #"{"a":[1,2.50,-0,1E+3,0.0e-0,12345678901234567890123],"b":"x  y\u00E9\n\/ é","c":{},"d":[],"e":null,"f":true,"g":false}"#)
    }

    @Test func keepsMemberOrderAndUnicode() throws {
        let text = #"{"z":1,"a":"こんにちは","🎉":"\ud83d\ude00","k":"\u0000"}"#
        #expect(try compact(text) == text)
    }

    @Test func stringAndBufferEntriesAgree() throws {
        let text = #" { "a" : [1, {"b": "c"}] } "#
        let viaString = try JSONText.compactObject(text, field: "properties")
        #expect(utf8(viaString) == (try compact(text)))
        #expect(message { _ = try JSONText.compactObject("[]", field: "traits") } == "traits: must be a JSON object")
    }

    @Test func errorsNameTheField() {
        #expect(message { _ = try compact("", field: "traits") } == "traits: must be a JSON object (got empty text)")
        #expect(message { _ = try compact("  ", field: "properties") } == "properties: must be a JSON object (got empty text)")
        #expect(message { _ = try compact("[1]") } == "properties: must be a JSON object")
        #expect(message { _ = try compact(#"{"a":{"b":[0,{"c":1,"c":2}]}}"#) } == "properties.a.b[1].c: duplicate key")
        #expect(message { _ = try compact(#"{"a":[1,NaN]}"#) } == "properties.a[1]: numbers must be finite (no NaN or Infinity)")
        #expect(message { _ = try compact(#"{"a":"\ud800"}"#) } == "properties.a: must be valid Unicode (lone surrogate)")
        #expect(message { _ = try compact([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]) } == "properties.a: must be valid UTF-8")
        #expect(message { _ = try compact(#"{"a":01}"#) } == "properties.a: is not valid JSON (invalid number at byte 6)")
        #expect(message { _ = try compact("{} x") } == "properties: is not valid JSON (unexpected text after the object at byte 3)")
    }

    @Test func stringMembers() throws {
        let named = RequestBody.namedTraits
        #expect(message { _ = try compact(#"{"email":5}"#, field: "traits", stringMembers: named) } == "traits.email: must be a string")
        #expect(message { _ = try compact(#"{"a":1, "name" : [] }"#, field: "traits", stringMembers: named) } == "traits.name: must be a string")
        #expect(message { _ = try compact(#"{"email":null}"#, field: "traits", stringMembers: named) } == "traits.email: must be a string")
        #expect(try compact(#"{"email":"e","name":"n","userId":"u","x":{"email":5}}"#, field: "traits", stringMembers: named)
            == #"{"email":"e","name":"n","userId":"u","x":{"email":5}}"#)
        // Only for the named members: properties has none.
        #expect(try compact(#"{"email":5}"#) == #"{"email":5}"#)
    }

    @Test func depthAndSize() throws {
        let ok = String(repeating: #"{"a":"#, count: 31) + "{}" + String(repeating: "}", count: 31)
        #expect(try compact(ok) == ok)
        let deep = String(repeating: #"{"a":"#, count: 32) + "{}" + String(repeating: "}", count: 32)
        #expect(message { _ = try compact(deep) } == "properties\(String(repeating: ".a", count: 32)): must not nest deeper than 32 levels")
        let exact = #"{"a":""# + String(repeating: "x", count: 10232) + #""}"#
        #expect(try compact(exact).utf8.count == 10240)
        #expect(try compact("\n{ \"a\" :\n \"" + String(repeating: "x", count: 10232) + "\" }\n") == exact)
        #expect(message { _ = try compact(#"{"a":""# + String(repeating: "x", count: 10233) + #""}"#) }
            == "properties: must be at most 10240 bytes as compact JSON")
    }

    @Test func validUTF8() {
        func check(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { JSONText.isValidUTF8($0) } }
        #expect(check([]))
        #expect(check(Array("abc é 🎉 \u{7F} \u{10FFFF}".utf8)))
        #expect(!check([0x61, 0x00, 0x62]), "NUL is refused")
        for bad: [UInt8] in [[0xFF], [0x80], [0xC3], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
                             [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82], [0x61, 0xE9, 0x62]] {
            #expect(!check(bad), "\(bad)")
        }
    }

    /// Keys are compared as decoded text, so escapes neither hide duplicates nor named traits.
    @Test func escapedKeys() {
        #expect(message { _ = try compact(#"{"a":1,"\u0061":2}"#) } == "properties.a: duplicate key")
        #expect(message { _ = try compact(#"{"\u0065mail":5}"#, field: "traits", stringMembers: RequestBody.namedTraits) }
            == "traits.email: must be a string")
    }
}

@Suite struct JSONTextMessageTests {
    /// Only NaN and Infinity are reported as non-finite numbers; other words are syntax errors.
    @Test func wordsStartingWithNOrI() {
        #expect(message { _ = try compact(#"{"a":None}"#) } == "properties.a: is not valid JSON (unexpected character at byte 5)")
        #expect(message { _ = try compact(#"{"a":-Inf}"#) } == "properties.a: is not valid JSON (invalid number at byte 6)")
        #expect(message { _ = try compact(#"{"a":NaN}"#) } == "properties.a: numbers must be finite (no NaN or Infinity)")
        #expect(message { _ = try compact(#"{"a":-Infinity}"#) } == "properties.a: numbers must be finite (no NaN or Infinity)")
    }
}
