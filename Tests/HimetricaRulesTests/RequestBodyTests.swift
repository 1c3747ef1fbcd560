import HimetricaRules
import Testing

@Suite struct RequestBodyTests {
    @Test func minimalTrackIsStampedWithCaptureTime() throws {
        let body = try RequestBody.track(
            eventName: "signup", identity: .visitorId("abc123"), properties: nil, timestamp: nil, session: nil,
            capturedAtMilliseconds: 1_769_860_800_123)
        #expect(utf8(body) == #"{"eventName":"signup","visitorId":"abc123","timestamp":"2026-01-31T12:00:00.123Z"}"#)
    }

    @Test func fullTrack() throws {
        let properties = try JSONText.compactObject(#"{ "plan": "pro", "amount": 29.99 }"#, field: "properties")
        let body = try RequestBody.track(
            eventName: "subscription_renewed", identity: .userId("hm_usr_a1b2c3d4e5f6"), properties: properties,
            timestamp: "2026-01-31T12:00:00+01:00", session: .latest, capturedAtMilliseconds: 0)
        #expect(utf8(body)
            == #"{"eventName":"subscription_renewed","userId":"hm_usr_a1b2c3d4e5f6","properties":{"plan":"pro","amount":29.99},"timestamp":"2026-01-31T12:00:00+01:00","session":"latest"}"#)
    }

    @Test func trackByEmailEscapesAndNewSession() throws {
        let body = try RequestBody.track(
            eventName: "invoice_paid", identity: .email("ja\"ne\\@example.com"),
            properties: try JSONWriter.object(["currency": "USD", "amount": 99.99], field: "properties"),
            timestamp: nil, session: .new, capturedAtMilliseconds: -1)
        #expect(utf8(body)
            == #"{"eventName":"invoice_paid","email":"ja\"ne\\@example.com","properties":{"amount":99.99,"currency":"USD"},"timestamp":"1969-12-31T23:59:59.999Z","session":"new"}"#)
    }

    @Test func trackValidates() {
        func track(_ identity: Identity = .visitorId("v"), _ eventName: String = "e", _ timestamp: String? = nil) -> String? {
            message {
                _ = try RequestBody.track(eventName: eventName, identity: identity, properties: nil, timestamp: timestamp,
                                          session: nil, capturedAtMilliseconds: 0)
            }
        }
        #expect(track(.userId("usr_1"), "bad name", "x")
            == "userId: must be a Himetrica user id (hm_usr_...); pass your own id as traits.userId")
        #expect(track(.email(""), "bad name") == "email: must not be empty")
        #expect(track(.visitorId("v"), "bad name", "x") == "eventName: may contain only letters, digits, '_' and '-'")
        #expect(track(.visitorId("v"), "ok", "2026-02-30T00:00:00Z")
            == "timestamp: must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z")
        #expect(track() == nil)
    }

    @Test func identify() throws {
        let traits = try JSONText.compactObject(
            #"{"userId": "usr_123", "email": "jane@example.com", "name": "Jane Doe", "plan": "enterprise"}"#,
            field: "traits", stringMembers: RequestBody.namedTraits)
        let body = try RequestBody.identify(identity: .userId("hm_usr_a1b2c3d4e5f6"), traits: traits)
        #expect(utf8(body)
            == #"{"userId":"hm_usr_a1b2c3d4e5f6","traits":{"userId":"usr_123","email":"jane@example.com","name":"Jane Doe","plan":"enterprise"}}"#)
        #expect(utf8(try RequestBody.identify(identity: .visitorId("v\u{1F389}"), traits: Array("{}".utf8)))
            == "{\"visitorId\":\"v\u{1F389}\",\"traits\":{}}")
        #expect(message { _ = try RequestBody.identify(identity: .email("nope"), traits: Array("{}".utf8)) }
            == "email: must be an email address")
    }
}
