/// Validates a whole call and encodes the exact HTTP body it will be sent as, once.
public enum RequestBody {
    /// `traits` members the API gives a meaning to; their values must be strings.
    public static let namedTraits = ["userId", "email", "name"]

    /// The body of `POST /track`.
    ///
    /// - Parameters:
    ///   - properties: the compact JSON object from ``JSONText`` or ``JSONWriter``.
    ///   - timestamp: an ISO 8601 timestamp given by the caller, checked here.
    ///   - capturedAtMilliseconds: Unix time used when `timestamp` is nil, so queueing and
    ///     retries do not move the event in time.
    public static func track(
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
    public static func encodeTrack(
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

    /// The body of `POST /identify`. `traits` is the compact JSON object from ``JSONText`` or
    /// ``JSONWriter`` (checked with ``namedTraits`` as string members).
    public static func identify(identity: Identity, traits: [UInt8]) throws(ValidationError) -> [UInt8] {
        try identity.validate()
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
    public static func linkedIdentity(identity: Identity, traits: [UInt8]) -> Identity? {
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
