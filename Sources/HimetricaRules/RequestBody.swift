/// Validates a whole call and encodes the exact HTTP body it will be sent as, once.
package enum RequestBody {
    /// `traits` members the API gives a meaning to; their values must be strings.
    package static let namedTraits = ["userId", "email", "name"]
    /// Named `traits` members the API refuses (400) as empty strings: an external id and an
    /// email identify someone, so `""` is never a value for them (`name` may be empty).
    package static let nonEmptyTraits = ["userId", "email"]

    /// The body of `POST /track`.
    ///
    /// - Parameters:
    ///   - properties: the compact JSON object from ``JSONText`` or ``JSONWriter``.
    ///   - timestamp: an ISO 8601 timestamp given by the caller, checked here.
    ///   - capturedAtMilliseconds: Unix time used when `timestamp` is nil, so queueing and
    ///     retries do not move the event in time.
    package static func track(
        eventName: String, identity: Identity, properties: [UInt8]?, timestamp: String?,
        session: Session?, capturedAtMilliseconds: Int64
    ) throws(ValidationError) -> [UInt8] {
        try identity.validate()
        try EventName.validate(eventName)
        if let timestamp { try Timestamp.validate(timestamp) }
        return try encodeTrack(
            eventName: eventName, identity: identity, properties: properties, timestamp: timestamp,
            session: session, capturedAtMilliseconds: capturedAtMilliseconds)
    }

    /// The body of `POST /track` from parts already checked (identity, event name, timestamp),
    /// for surfaces that check them in their own order first.
    ///
    /// - Throws: ``ValidationError`` only when `capturedAtMilliseconds` is needed and outside
    ///   the years 0001-9999.
    package static func encodeTrack(
        eventName: String, identity: Identity, properties: [UInt8]?, timestamp: String?,
        session: Session?, capturedAtMilliseconds: Int64
    ) throws(ValidationError) -> [UInt8] {
        var w = JSONWriter(capacity: 96 + eventName.utf8.count + identity.value.utf8.count + (properties?.count ?? 0))
        w.raw("{")
        w.key("eventName"); w.string(eventName)
        w.raw(","); identityMember(identity, into: &w)
        if let properties {
            w.raw(","); w.key("properties"); w.raw(properties)
        }
        w.raw(","); w.key("timestamp")
        if let timestamp {
            w.string(timestamp)
        } else {
            w.raw("\"")
            try Timestamp.write(unixMilliseconds: capturedAtMilliseconds, into: &w.bytes)
            w.raw("\"")
        }
        if let session {
            w.raw(","); w.key("session"); w.string(session.rawValue)
        }
        w.raw("}")
        return w.bytes
    }

    /// The body of `POST /track` built in one buffer, for the C surface's hot path: the
    /// properties are checked and compacted straight into the body (no intermediate copy).
    ///
    /// Checks in the documented order: `properties` here, then whatever `rest` checks
    /// (timestamp, session), which it returns. `eventName` and `identity` must be checked
    /// already. Gives the same bytes as ``encodeTrack(eventName:identity:properties:timestamp:session:capturedAtMilliseconds:)``.
    package static func encodeTrack(
        eventName: UnsafeBufferPointer<UInt8>, identity: Identity, propertiesText: UnsafeBufferPointer<UInt8>?,
        capturedAtMilliseconds: Int64,
        rest: () throws(ValidationError) -> (timestamp: String?, session: Session?)
    ) throws(ValidationError) -> [UInt8] {
        var failure: ValidationError?
        // Room for the worst case: every byte of a string escaped as \u00XX; a valid timestamp
        // is at most 35 bytes, so the tail is at most 80.
        return try identity.withUTF8Value { (value) throws(ValidationError) -> [UInt8] in
            // Sized tightly (the body stays queued, so slack is memory per event): strings take
            // their escaped length, the properties at most their text's; the tail is a
            // timestamp (at most 35 bytes once checked) and a session.
            let nameCount = JSONWriter.literalCount(eventName), valueCount = JSONWriter.literalCount(value)
            let capacity = 28 + nameCount + valueCount
                + (propertiesText.map { 14 + JSONText.maxCompactBytes($0.count) } ?? 0) + 72
            let body = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                var w = BufferWriter(base: buffer.baseAddress!)
                do throws(ValidationError) {
                    w.raw("{\"eventName\":"); w.string(eventName, literalCount: nameCount)
                    w.raw(",\""); w.raw(identity.staticField); w.raw("\":"); w.string(value, literalCount: valueCount)
                    if let propertiesText {
                        w.raw(",\"properties\":")
                        w.count += try JSONText.compactObject(propertiesText, field: "properties", into: w.base + w.count)
                    }
                    let (timestamp, session) = try rest()
                    w.raw(",\"timestamp\":")
                    if var timestamp {
                        precondition(timestamp.utf8.count <= 35, "a checked timestamp")
                        timestamp.withUTF8 { w.string($0) }
                    } else {
                        w.raw("\"")
                        w.count += try Timestamp.write(unixMilliseconds: capturedAtMilliseconds, to: w.base + w.count)
                        w.raw("\"")
                    }
                    if let session {
                        w.raw(",\"session\":")
                        w.raw(session == .latest ? "\"latest\"" : "\"new\"")
                    }
                    w.raw("}")
                    count = w.count
                } catch {
                    failure = error
                    count = 0
                }
            }
            if let failure { throw failure }
            return body
        }
    }

    /// The body of `POST /identify`. `traits` is the compact JSON object from ``JSONText`` or
    /// ``JSONWriter`` (checked with ``namedTraits`` as string members); of those,
    /// ``nonEmptyTraits`` must not be empty.
    package static func identify(identity: Identity, traits: [UInt8]) throws(ValidationError) -> [UInt8] {
        try identity.validate()
        for name in nonEmptyTraits where JSONText.topLevelString(name, in: traits)?.isEmpty == true {
            throw ValidationError(field: "traits.\(name)", rule: "must not be empty")
        }
        var w = JSONWriter(capacity: 64 + traits.count)
        w.raw("{")
        identityMember(identity, into: &w)
        w.raw(","); w.key("traits"); w.raw(traits)
        w.raw("}")
        return w.bytes
    }

    /// The identity whose later requests must wait for this identify: the email it sets
    /// (`traits.email`), since tracking by email needs the identify done first. Nil when the
    /// traits set no email or the identify is by that email already.
    package static func linkedIdentity(identity: Identity, traits: [UInt8]) -> Identity? {
        guard let email = JSONText.topLevelString("email", in: traits), !email.isEmpty else { return nil }
        let linked = Identity.email(email)
        return linked == identity ? nil : linked
    }

    private static func identityMember(_ identity: Identity, into w: inout JSONWriter) {
        switch identity {
        case .userId(let v): w.key("userId"); w.string(v)
        case .email(let v): w.key("email"); w.string(v)
        case .visitorId(let v): w.key("visitorId"); w.string(v)
        }
    }
}

extension Identity {
    /// Calls `body` with the value's UTF-8 bytes.
    fileprivate func withUTF8Value<R>(_ body: (UnsafeBufferPointer<UInt8>) throws(ValidationError) -> R) throws(ValidationError) -> R {
        var value = self.value
        let result = value.withUTF8 { buffer in Result { () throws(ValidationError) in try body(buffer) } }
        return try result.get()
    }

    /// The JSON field name, as static text.
    fileprivate var staticField: StaticString {
        switch self {
        case .userId: "userId"
        case .email: "email"
        case .visitorId: "visitorId"
        }
    }
}

/// Writes JSON into a buffer the caller sized for the worst case.
struct BufferWriter {
    let base: UnsafeMutablePointer<UInt8>
    var count = 0

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        base[count] = b
        count += 1
    }

    mutating func raw(_ text: StaticString) {
        (base + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    /// A JSON string literal, escaped by ``JSONWriter``'s rule; runs of bytes that need no
    /// escape are copied as blocks.
    mutating func string(_ utf8: UnsafeBufferPointer<UInt8>) {
        byte(UInt8(ascii: "\""))
        var runStart = 0
        for i in utf8.indices where JSONWriter.needsEscape(utf8[i]) {
            copy(UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
            runStart = i + 1
            JSONWriter.escape(utf8[i], raw: { raw($0) }, byte: { byte($0) })
        }
        copy(UnsafeBufferPointer(rebasing: utf8[runStart...]))
        byte(UInt8(ascii: "\""))
    }

    /// ``string(_:)`` given its ``JSONWriter/literalCount(_:)``: bytes with nothing to escape
    /// (the usual case) are copied without looking at them again.
    mutating func string(_ utf8: UnsafeBufferPointer<UInt8>, literalCount: Int) {
        guard literalCount == utf8.count + 2 else { return string(utf8) }
        byte(UInt8(ascii: "\""))
        copy(utf8)
        byte(UInt8(ascii: "\""))
    }

    private mutating func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let start = bytes.baseAddress else { return }
        (base + count).update(from: start, count: bytes.count)
        count += bytes.count
    }
}
