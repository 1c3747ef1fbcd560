import Foundation
import HimetricaRules
import Testing

/// One entry of `Tests/vectors/invalid.json` (see `Tests/vectors/README.md`).
struct Vector: Sendable, CustomTestStringConvertible {
    enum Argument: Sendable { case text(String), bytes([UInt8]) }

    let name: String
    let call: String
    let args: [String: Argument]
    let error: String?

    var testDescription: String { name }

    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("vectors/invalid.json")

    static let all: (cases: [Vector], valid: [Vector]) = {
        do {
            let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            func load(_ key: String) -> [Vector] {
                (root[key] as! [[String: Any]]).map { entry in
                    var args: [String: Argument] = [:]
                    for (key, value) in entry["args"] as! [String: Any] {
                        let text = value as! String
                        if key.hasSuffix("Hex") {
                            args[String(key.dropLast(3))] = .bytes(hexBytes(text))
                        } else {
                            args[key] = .text(text)
                        }
                    }
                    return Vector(name: entry["name"] as! String, call: entry["call"] as! String, args: args,
                                  error: entry["error"] as? String)
                }
            }
            return (load("cases"), load("valid"))
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }()

    static func hexBytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd hex length")
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    /// A text argument as a C surface receives it: raw bytes are checked to be UTF-8 first.
    func text(_ field: String) throws(ValidationError) -> String? {
        switch args[field] {
        case nil: return nil
        case .text(let s): return s
        case .bytes(let b):
            guard b.withUnsafeBufferPointer({ JSONText.isValidUTF8($0) }) else {
                throw ValidationError(field: field, rule: "must be valid UTF-8")
            }
            return String(decoding: b, as: UTF8.self)
        }
    }

    /// A JSON-text argument's bytes.
    func bytes(_ field: String) -> [UInt8]? {
        switch args[field] {
        case nil: nil
        case .text(let s): Array(s.utf8)
        case .bytes(let b): b
        }
    }

    /// Performs the call the way the C surface does, in the documented check order; returns
    /// the request body (or the visitor id for a user-id lookup).
    func perform() throws(ValidationError) -> [UInt8] {
        switch call {
        case "track":
            let identity = try identity()
            let eventName = try text("eventName") ?? ""
            try EventName.validate(eventName)
            let properties = try bytes("properties").map { (b) throws(ValidationError) in
                try compact(b, field: "properties")
            }
            let timestamp = try text("timestamp")
            if let timestamp { try Timestamp.validate(timestamp) }
            let session = try text("session").map { (s) throws(ValidationError) in try Session.parse(s) }
            return try RequestBody.track(
                eventName: eventName, identity: identity, properties: properties.map { Array($0.utf8) },
                timestamp: timestamp, session: session, capturedAtMilliseconds: 1_769_860_800_000)
        case "identify":
            let identity = try identity()
            guard let traits = bytes("traits") else { fatalError("identify vector without traits: \(name)") }
            let compactTraits = try compact(traits, field: "traits", stringMembers: RequestBody.namedTraits)
            return try RequestBody.identify(identity: identity, traits: Array(compactTraits.utf8))
        case "userId":
            let visitorId = try text("visitorId") ?? ""
            try Identity.validate(visitorId, field: "visitorId")
            return Array(visitorId.utf8)
        default:
            fatalError("unknown call \(call) in \(name)")
        }
    }

    private func identity() throws(ValidationError) -> Identity {
        let userId = try text("userId"), email = try text("email"), visitorId = try text("visitorId")
        return try Identity.exactlyOne(userId: userId, email: email, visitorId: visitorId)
    }
}

@Suite struct VectorTests {
    @Test func fileIsWellFormed() throws {
        let (cases, valid) = Vector.all
        #expect(cases.count >= 100)
        #expect(!valid.isEmpty)
        let names = (cases + valid).map(\.name)
        #expect(Set(names).count == names.count, "names are unique")
        #expect(cases.allSatisfy { $0.error != nil })
        #expect(Set((cases + valid).map(\.call)).isSubset(of: ["track", "identify", "userId"]))
        let size = try Data(contentsOf: Vector.url).count
        #expect(size < 200 * 1024)
    }

    @Test(arguments: Vector.all.cases)
    func invalid(_ vector: Vector) {
        #expect(message { _ = try vector.perform() } == vector.error)
    }

    @Test(arguments: Vector.all.valid)
    func valid(_ vector: Vector) throws {
        let body = try vector.perform()
        if vector.call == "userId" { return }
        // The body is one JSON object carrying the compact properties/traits byte for byte.
        // (The whole body may be one level deeper and larger than properties may be.)
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        #expect(object != nil)
        let member = vector.call == "track" ? "properties" : "traits"
        if let given = vector.bytes(member) {
            let compacted = try compact(given, field: member, stringMembers: vector.call == "track" ? [] : RequestBody.namedTraits)
            #expect(utf8(body).contains("\"\(member)\":" + compacted))
        }
        if vector.call == "track" {
            #expect(object?["eventName"] as? String == (try vector.text("eventName")))
            #expect(object?["timestamp"] as? String == (try vector.text("timestamp") ?? "2026-01-31T12:00:00.000Z"))
            #expect(object?["session"] as? String == (try vector.text("session")))
        } else {
            #expect(object?["traits"] is [String: Any])
        }
    }
}
