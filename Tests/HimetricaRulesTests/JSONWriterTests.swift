import HimetricaRules
import Testing

@Suite struct JSONWriterTests {
    func write(_ value: JSONValue, field: String = "properties", stringMembers: [String] = []) throws(ValidationError) -> String {
        utf8(try JSONWriter.object(value, field: field, stringMembers: stringMembers))
    }

    func nested(_ levels: Int) -> JSONValue {
        var value: JSONValue = [:]
        for _ in 1..<levels { value = ["a": value] }
        return value
    }

    @Test func sortsKeysAndIsCompact() throws {
        let value: JSONValue = ["zeta": 1, "alpha": ["b": true, "a": nil], "mid": ["x", 2, false], "Upper": "u"]
        #expect(try write(value) == #"{"Upper":"u","alpha":{"a":null,"b":true},"mid":["x",2,false],"zeta":1}"#)
        // Equal values give equal bytes.
        let again: JSONValue = ["Upper": "u", "mid": ["x", 2, false], "zeta": 1, "alpha": ["a": nil, "b": true]]
        #expect(try write(again) == write(value))
    }

    @Test func escapesStrings() throws {
        let value: JSONValue = ["s": "quote\" backslash\\ lf\n cr\r tab\t soh\u{1} us\u{1F} del\u{7F} slash/ é 🎉"]
        #expect(try write(value) == #"{"s":"quote\" backslash\\ lf\n cr\r tab\t soh\u0001 us\u001f del"# + "\u{7F}" + #" slash/ é 🎉"}"#)
        #expect(try write(["\u{0}key\"": 1]) == #"{"\u0000key\"":1}"#)
        #expect(try write(["b": "\u{8}\u{C}"]) == #"{"b":"\u0008\u000c"}"#)
    }

    @Test func numbers() throws {
        #expect(try write(["a": 3.0]) == #"{"a":3}"#)
        #expect(try write(["a": -0.0]) == #"{"a":0}"#)
        #expect(try write(["a": -42.0]) == #"{"a":-42}"#)
        #expect(try write(["a": 29.99]) == #"{"a":29.99}"#)
        #expect(try write(["a": 0.1]) == #"{"a":0.1}"#)
        #expect(try write(["a": 123_456_789_012_345.0]) == #"{"a":123456789012345}"#)
        // From 1e15 on, integral doubles are written by Swift's description.
        #expect(try write(["a": 1e15]) == #"{"a":1000000000000000.0}"#)
        #expect(try write(["a": 1e16]) == #"{"a":1e+16}"#)
        #expect(try write(["a": .int(Int64.max), "b": .int(Int64.min)]) == #"{"a":9223372036854775807,"b":-9223372036854775808}"#)
        // Every non-integral double is written so that JSONText accepts it back unchanged.
        for d in [1e-7, 5e-324, 1.7976931348623157e308, -2.5e-10, 1e300] {
            let text = try write(["a": .double(d)])
            #expect(try compact(text) == text)
        }
    }

    @Test func rejectsNonFiniteWithPath() {
        let rule = "numbers must be finite (no NaN or Infinity)"
        #expect(message { _ = try write(["a": .double(.nan)]) } == "properties.a: \(rule)")
        #expect(message { _ = try write(["a": ["b": [1, .double(.infinity)]]]) } == "properties.a.b[1]: \(rule)")
        #expect(message { _ = try write(["x": [["y": .double(-.infinity)]]], field: "traits") } == "traits.x[0].y: \(rule)")
    }

    @Test func mustBeAnObject() {
        for value: JSONValue in [[], "s", 1, 1.5, true, nil] {
            #expect(message { _ = try write(value) } == "properties: must be a JSON object")
        }
        #expect(message { _ = try write([1], field: "traits") } == "traits: must be a JSON object")
    }

    @Test func stringMembers() throws {
        let named = RequestBody.namedTraits
        #expect(named == ["userId", "email", "name"])
        #expect(message { _ = try write(["email": 5], field: "traits", stringMembers: named) } == "traits.email: must be a string")
        #expect(message { _ = try write(["name": [:]], field: "traits", stringMembers: named) } == "traits.name: must be a string")
        #expect(message { _ = try write(["userId": true], field: "traits", stringMembers: named) } == "traits.userId: must be a string")
        #expect(message { _ = try write(["email": nil], field: "traits", stringMembers: named) } == "traits.email: must be a string")
        #expect(try write(["email": "e", "name": "Jane", "plan": 3, "nested": ["email": 5]], field: "traits", stringMembers: named)
            == #"{"email":"e","name":"Jane","nested":{"email":5},"plan":3}"#)
    }

    @Test func depth() throws {
        #expect(try write(nested(32)).hasPrefix(#"{"a":{"a":"#))
        let path = String(repeating: ".a", count: 32)
        #expect(message { _ = try write(nested(33)) } == "properties\(path): must not nest deeper than 32 levels")
        var arrays: JSONValue = []
        for _ in 1..<31 { arrays = [arrays] }  // 31 arrays below the object: 32 levels
        #expect(message { _ = try write(["a": arrays]) } == nil)
        #expect(message { _ = try write(["a": [arrays]]) }
            == "properties.a\(String(repeating: "[0]", count: 31)): must not nest deeper than 32 levels")
    }

    @Test func size() throws {
        let exact: JSONValue = ["a": .string(String(repeating: "x", count: 10232))]
        #expect(try JSONWriter.object(exact, field: "properties").count == 10240)
        let over: JSONValue = ["a": .string(String(repeating: "x", count: 10233))]
        #expect(message { _ = try write(over) } == "properties: must be at most 10240 bytes as compact JSON")
        // Escapes count as written, and the size error carries no path.
        let escaped: JSONValue = ["a": ["b": .string(String(repeating: "\n", count: 5200))]]
        #expect(message { _ = try write(escaped, field: "traits") } == "traits: must be at most 10240 bytes as compact JSON")
    }

    @Test func agreesWithJSONText() throws {
        let value: JSONValue = ["plan": "pro", "amount": 29.99, "seats": 3, "tags": ["a", "b"], "ok": true,
                                "none": nil, "text": "é\n\"🎉\u{1}", "deep": ["x": [["y": -1.5e-7]]]]
        let written = try write(value)
        #expect(try compact(written) == written)
    }

    @Test func primitives() {
        var w = JSONWriter()
        w.raw("{")
        w.key("k")
        w.string("v\"")
        w.raw(",")
        w.raw(Array(#""n":1}"#.utf8))
        #expect(utf8(w.bytes) == #"{"k":"v\"","n":1}"#)
    }
}
