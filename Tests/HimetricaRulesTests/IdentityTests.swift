import HimetricaRules
import Testing

@Suite struct IdentityTests {
    @Test func exactlyOnePicksTheOneGiven() throws {
        #expect(try Identity.exactlyOne(userId: "hm_usr_abc", email: nil, visitorId: nil) == .userId("hm_usr_abc"))
        #expect(try Identity.exactlyOne(userId: nil, email: "jane@example.com", visitorId: nil) == .email("jane@example.com"))
        #expect(try Identity.exactlyOne(userId: nil, email: nil, visitorId: "abc123") == .visitorId("abc123"))
    }

    @Test func noneOrSeveral() {
        let none = "identity: one of userId, email or visitorId is required"
        let several = "identity: give only one of userId, email or visitorId"
        #expect(message { _ = try Identity.exactlyOne(userId: nil, email: nil, visitorId: nil) } == none)
        #expect(message { _ = try Identity.exactlyOne(userId: "hm_usr_a", email: "a@b", visitorId: nil) } == several)
        #expect(message { _ = try Identity.exactlyOne(userId: "hm_usr_a", email: nil, visitorId: "v") } == several)
        #expect(message { _ = try Identity.exactlyOne(userId: nil, email: "a@b", visitorId: "v") } == several)
        #expect(message { _ = try Identity.exactlyOne(userId: "hm_usr_a", email: "a@b", visitorId: "v") } == several)
        // An empty string is given, not absent.
        #expect(message { _ = try Identity.exactlyOne(userId: "", email: nil, visitorId: "v") } == several)
    }

    @Test(arguments: ["userId", "email", "visitorId"])
    func valueRules(field: String) {
        func check(_ value: String) -> String? {
            message {
                _ = try Identity.exactlyOne(
                    userId: field == "userId" ? value : nil, email: field == "email" ? value : nil,
                    visitorId: field == "visitorId" ? value : nil)
            }
        }
        let prefix = field == "userId" ? "hm_usr_" : field == "email" ? "a@" : ""
        #expect(check("") == "\(field): must not be empty")
        #expect(check(" ") == "\(field): must not be blank")
        #expect(check("     ") == "\(field): must not be blank")
        #expect(check(prefix + String(repeating: "x", count: 513 - prefix.utf8.count)) == "\(field): must be at most 512 bytes")
        #expect(check(prefix + String(repeating: "x", count: 512 - prefix.utf8.count)) == nil)
        #expect(check(String(repeating: " ", count: 513)) == "\(field): must be at most 512 bytes")
        for control in ["\n", "\r", "\r\n", "\t", "\u{0}", "\u{1B}", "\u{1F}", "\u{7F}"] {
            #expect(check(prefix + "a" + control + "b") == "\(field): must not contain control characters")
        }
        #expect(check("\t") == "\(field): must not contain control characters")
        #expect(check(prefix + " inner space ") == nil)
        #expect(check(prefix + "ünïcødé-🎉") == nil)
    }

    @Test func lengthIsInBytes() {
        #expect(message { try Identity.visitorId(String(repeating: "é", count: 256)).validate() } == nil)
        #expect(message { try Identity.visitorId(String(repeating: "é", count: 256) + "x").validate() }
            == "visitorId: must be at most 512 bytes")
    }

    @Test func userIdMustBeHimetricas() {
        let rule = "userId: must be a Himetrica user id (hm_usr_...); pass your own id as traits.userId"
        for bad in ["usr_123", "HM_USR_abc", "x_hm_usr_abc", " hm_usr_abc", "hm_usr", "hm-usr-abc"] {
            #expect(message { try Identity.userId(bad).validate() } == rule, "\(bad)")
        }
        #expect(message { try Identity.userId("hm_usr_a1b2c3d4e5f6").validate() } == nil)
    }

    @Test func emailNeedsAnAt() {
        #expect(message { try Identity.email("jane.example.com").validate() } == "email: must be an email address")
        #expect(message { try Identity.email("jane＠example.com").validate() } == "email: must be an email address")
        #expect(message { try Identity.email("jane@example.com").validate() } == nil)
    }

    @Test func fieldAndValue() {
        #expect(Identity.userId("hm_usr_1").field == "userId")
        #expect(Identity.email("a@b").field == "email")
        #expect(Identity.visitorId("v").field == "visitorId")
        #expect(Identity.email("a@b").value == "a@b")
        #expect(Identity.userIdPrefix == "hm_usr_")
    }

    @Test func lookupVisitorId() {
        #expect(message { try Identity.validate("abc123", field: "visitorId") } == nil)
        #expect(message { try Identity.validate("", field: "visitorId") } == "visitorId: must not be empty")
        #expect(message { try Identity.validate("a\u{0}", field: "visitorId") } == "visitorId: must not contain control characters")
    }
}
