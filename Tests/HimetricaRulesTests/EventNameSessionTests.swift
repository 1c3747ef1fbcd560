import HimetricaRules
import Testing

@Suite struct EventNameTests {
    let chars = "eventName: may contain only letters, digits, '_' and '-'"

    @Test(arguments: ["a", "Z", "0", "_", "-", "subscription_renewed", "invoice-paid", "A1_b2-C3",
                      String(repeating: "e", count: 255)])
    func accepts(name: String) {
        #expect(message { try EventName.validate(name) } == nil)
    }

    @Test(arguments: ["sign up", " ", "signup ", "sign.up", "sign/up", "page:view", "a@b", "événement", "登録",
                      "signup🎉", "signup\n", "sign\u{0}up", "sign\tup", "a+b", "$pageview", "ｓｉｇｎｕｐ"])
    func rejectsCharacters(name: String) {
        #expect(message { try EventName.validate(name) } == chars)
    }

    @Test func emptyAndLength() {
        #expect(message { try EventName.validate("") } == "eventName: must not be empty")
        #expect(message { try EventName.validate(String(repeating: "a", count: 256)) } == "eventName: must be at most 255 bytes")
        // Length is checked before the characters, in bytes.
        #expect(message { try EventName.validate(String(repeating: "é", count: 128)) } == "eventName: must be at most 255 bytes")
    }
}

@Suite struct SessionTests {
    @Test func parses() throws {
        #expect(try Session.parse("latest") == .latest)
        #expect(try Session.parse("new") == .new)
        #expect(Session.allCases.map(\.rawValue) == ["latest", "new"])
    }

    @Test(arguments: ["", "Latest", "LATEST", "NEW", "old", "none", "null", " latest", "latest ", "new\n"])
    func rejects(text: String) {
        #expect(message { _ = try Session.parse(text) } == #"session: must be "latest" or "new" (or omitted)"#)
    }
}

@Suite struct EndpointAndLimitsTests {
    @Test func endpoints() {
        #expect(Endpoint.allCases == [.track, .identify, .userId])
        #expect(Endpoint.allCases.map(\.path) == ["/track", "/identify", "/user-id"])
        #expect(Endpoint.allCases.map(\.name) == ["track", "identify", "user-id"])
        #expect(Endpoint.allCases.map(\.documentedLimitPerMinute) == [1000, 500, 100])
    }

    @Test func limits() {
        #expect(Limits.maxPropertiesBytes == 10240)
        #expect(Limits.maxNestingDepth == 32)
        #expect(Limits.maxEventNameBytes == 255)
        #expect(Limits.maxIdentityBytes == 512)
    }

    @Test func validationErrorMessage() {
        let error = ValidationError(field: "properties.a[2]", rule: "must be a string")
        #expect(error.message == "properties.a[2]: must be a string")
        #expect(error.description == error.message)
    }
}
