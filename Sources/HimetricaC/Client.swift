import HimetricaCTypes
import HimetricaCore
import HimetricaRules
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The Swift object behind an hm_client handle.
final class ClientBox {
    let engine: Engine
    /// How long hm_client_free may deliver for (the configuration's exit_flush_timeout).
    let exitFlushTimeout: Double
    /// The way into the client's C callbacks, closed by hm_client_free.
    let callouts: Callouts

    private let engineReference: Unmanaged<Engine>

    init(engine: Engine, exitFlushTimeout: Double, callouts: Callouts) {
        self.engine = engine
        engineReference = Unmanaged.passUnretained(engine)
        self.exitFlushTimeout = exitFlushTimeout
        self.callouts = callouts
    }

    /// Calls `body` with the engine of the client behind `handle`, borrowed, not retained: a
    /// retain and release per call would be atomic operations on counts every calling thread
    /// shares (the engine's lives in a side table, as the fork and exit hooks hold it weakly).
    static func withEngine<T>(
        _ handle: Unmanaged<ClientBox>, _ body: (Engine) throws(HimetricaError) -> T
    ) throws(HimetricaError) -> T {
        let result = handle._withUnsafeGuaranteedRef { box in
            box.engineReference._withUnsafeGuaranteedRef { engine in
                Result { () throws(HimetricaError) in try body(engine) }
            }
        }
        return try result.get()
    }

    /// The client behind `handle`, unretained.
    static func unmanaged(_ handle: UnsafeMutablePointer<hm_client>?) throws(ValidationError) -> Unmanaged<ClientBox> {
        guard let handle else { throw ValidationError(field: "client", rule: "must not be NULL") }
        return Unmanaged<ClientBox>.fromOpaque(UnsafeRawPointer(handle))
    }

    /// The client behind `handle`.
    static func from(_ handle: UnsafeMutablePointer<hm_client>?) throws(ValidationError) -> ClientBox {
        try unmanaged(handle).takeUnretainedValue()
    }
}

/// Creates a client for `secret_key` (hm_sk_...) with `config` (NULL for every default) and
/// stores it in `*out`. The key is copied and never shown in any output. Free the client with
/// hm_client_free().
@c public func hm_client_new(
    _ secret_key: UnsafePointer<CChar>?, _ config: UnsafeMutablePointer<hm_config>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<hm_client>?>?
) -> hm_status {
    do throws(ValidationError) {
        guard let out else { throw ValidationError(field: "out", rule: "must not be NULL") }
        out.pointee = nil
        let key = try CString.required(secret_key, field: "secretKey")
        let box = ConfigBox.from(config) ?? ConfigBox()
        var configuration = box.configuration
        let callouts = Callouts()
        configuration.logger = Logger(label: "himetrica") { [callback = box.logCallback] _ in
            CLogHandler(callback: callback, callouts: callouts)
        }
        if let callback = box.deliveryCallback {
            configuration.onDelivery = { delivery in DeliveryView.call(callback, with: delivery, through: callouts) }
        }
        let engine = try Engine(secretKey: key, configuration: configuration)
        let client = ClientBox(engine: engine, exitFlushTimeout: configuration.exitFlushTimeout.seconds, callouts: callouts)
        out.pointee = Unmanaged.passRetained(client).toOpaque().assumingMemoryBound(to: hm_client.self)
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

/// Shuts the client down (sending what it can within the configured exit_flush_timeout) and
/// frees it. NULL is ignored. The handle must not be used afterwards. It returns by that
/// deadline (plus a fraction of a second) even when the flush thread is stuck in a callback.
/// When it returns, no delivery or log callback starts any more, so what their user_data
/// points to may be freed; only a callback that was already running and had not returned by
/// the deadline (stuck in your code) may still be running then.
@c public func hm_client_free(_ client: UnsafeMutablePointer<hm_client>?) {
    guard let client else { return }
    let box = Unmanaged<ClientBox>.fromOpaque(UnsafeRawPointer(client))
    // A blocking shutdown joins the flush thread. Engine.close() would only detach it, and the
    // thread would go on calling the C callbacks (with the caller's user_data) after this
    // returned: a use after free in every caller that frees its callback state next. A thread
    // the shutdown gives up on keeps the engine alive itself (it holds a reference), and the
    // closed callouts keep it out of the caller's callbacks.
    let owner = box.takeUnretainedValue()
    owner.engine.shutdown(timeout: owner.exitFlushTimeout)
    owner.callouts.close(waitingUntil: Clock.monotonicNanoseconds() &+ Engine.waitGrace)
    box.release()
}

/// Queues a custom event. Exactly one of `user_id` (hm_usr_...), `email` or `visitor_id` must
/// be non-NULL. `properties_json` is NULL or a JSON object of at most 10 KB (compact);
/// `timestamp` NULL (the call's time is used) or ISO 8601; `session` NULL, "latest" or "new".
/// Returns at once; invalid input returns HM_ERR_INVALID_ARGUMENT and queues nothing.
@c public func hm_track(
    _ client: UnsafeMutablePointer<hm_client>?, _ event_name: UnsafePointer<CChar>?,
    _ user_id: UnsafePointer<CChar>?, _ email: UnsafePointer<CChar>?, _ visitor_id: UnsafePointer<CChar>?,
    _ properties_json: UnsafePointer<CChar>?, _ timestamp: UnsafePointer<CChar>?, _ session: UnsafePointer<CChar>?
) -> hm_status {
    do throws(HimetricaError) {
        let box: Unmanaged<ClientBox>, identity: Identity, body: [UInt8]
        do throws(ValidationError) {
            box = try ClientBox.unmanaged(client)
            identity = try readIdentity(user_id, email, visitor_id)
            body = try trackBody(identity, event_name, properties_json, timestamp, session)
        } catch {
            throw .invalid(error)
        }
        try ClientBox.withEngine(box) { engine throws(HimetricaError) in
            try engine.enqueue(.track, identity: identity, body: body)
        }
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

/// Queues an update of a visitor's traits. Exactly one of `user_id`, `email` or `visitor_id`
/// must be non-NULL; `traits_json` is a JSON object (name, email and userId, if present, must
/// be strings). Returns at once.
@c public func hm_identify(
    _ client: UnsafeMutablePointer<hm_client>?,
    _ user_id: UnsafePointer<CChar>?, _ email: UnsafePointer<CChar>?, _ visitor_id: UnsafePointer<CChar>?,
    _ traits_json: UnsafePointer<CChar>?
) -> hm_status {
    do throws(HimetricaError) {
        let box: Unmanaged<ClientBox>, identity: Identity, traits: [UInt8], body: [UInt8]
        do throws(ValidationError) {
            box = try ClientBox.unmanaged(client)
            identity = try readIdentity(user_id, email, visitor_id)
            guard let text = CString.bytes(traits_json) else {
                throw ValidationError(field: "traits", rule: "is required")
            }
            traits = try JSONText.compactObject(text, field: "traits", stringMembers: RequestBody.namedTraits)
            body = try RequestBody.identify(identity: identity, traits: traits)
        } catch {
            throw .invalid(error)
        }
        let linked = RequestBody.linkedIdentity(identity: identity, traits: traits)
        try ClientBox.withEngine(box) { engine throws(HimetricaError) in
            try engine.enqueue(.identify, identity: identity, body: body, linked: linked)
        }
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

/// Resolves a browser visitor id to Himetrica's user id (hm_usr_...), waiting at most
/// `timeout_ms`. On HM_OK, `*out_user_id` is a new string to free with hm_string_free().
/// Answers are cached; concurrent lookups of one visitor share one request.
@c public func hm_user_id(
    _ client: UnsafeMutablePointer<hm_client>?, _ visitor_id: UnsafePointer<CChar>?, _ timeout_ms: UInt32,
    _ out_user_id: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> hm_status {
    do throws(HimetricaError) {
        let engine: Engine, visitorId: String
        do throws(ValidationError) {
            guard let out_user_id else { throw ValidationError(field: "out_user_id", rule: "must not be NULL") }
            out_user_id.pointee = nil
            engine = try ClientBox.from(client).engine
            visitorId = try CString.required(visitor_id, field: "visitorId")
        } catch {
            throw .invalid(error)
        }
        out_user_id!.pointee = strdup(try engine.userId(visitorId: visitorId, timeout: Double(timeout_ms) / 1000).get())
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

/// `secret_key` as the library shows a key in any output (`hm_sk_...` and its last four
/// characters at most; less for a short key), for bindings and programs that print which key
/// they use. Returns a new string to free with hm_string_free(), or NULL for NULL.
@c public func hm_secret_key_masked(_ secret_key: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    guard let secret_key else { return nil }
    return strdup(SecretKey.masked(String(cString: secret_key)))
}

/// Frees a string returned by the library. NULL is ignored.
@c public func hm_string_free(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}

/// Waits until every request queued so far has an outcome, at most `timeout_ms`. Returns
/// HM_OK when all are done, HM_ERR_TIMEOUT otherwise; `*out_pending` (if not NULL) receives
/// how many are still waiting or in flight.
@c public func hm_flush(
    _ client: UnsafeMutablePointer<hm_client>?, _ timeout_ms: UInt32, _ out_pending: UnsafeMutablePointer<UInt64>?
) -> hm_status {
    finish(client, out_pending) { $0.flush(timeout: Double(timeout_ms) / 1000) }
}

/// Stops taking calls, sends what it can within `timeout_ms`, and stops the flush thread.
/// What is still pending then is dropped; `*out_pending` (if not NULL) receives how many.
/// Returns HM_OK when nothing was dropped, HM_ERR_TIMEOUT otherwise. Safe to repeat.
@c public func hm_shutdown(
    _ client: UnsafeMutablePointer<hm_client>?, _ timeout_ms: UInt32, _ out_pending: UnsafeMutablePointer<UInt64>?
) -> hm_status {
    finish(client, out_pending) { $0.shutdown(timeout: Double(timeout_ms) / 1000) }
}

/// Reads every counter at one instant into `*stats`, so they agree with each other (queued ==
/// delivered + rejected + gave_up + dropped + queue_depth + in_flight). Set
/// `stats->size = sizeof(hm_stats)` first: the library fills each counter that fits in
/// `size`, sets those it does not know (from a newer header) to 0, and writes nothing past
/// `size`, so programs built against an older or newer header keep working. A `size` smaller
/// than one counter, or larger than 64 KB, returns HM_ERR_INVALID_ARGUMENT.
@c public func hm_stats_snapshot(_ client: UnsafeMutablePointer<hm_client>?, _ stats: UnsafeMutablePointer<hm_stats>?) -> hm_status {
    do throws(ValidationError) {
        let engine = try ClientBox.from(client).engine
        guard let stats else { throw ValidationError(field: "stats", rule: "must not be NULL") }
        // The struct is `size_t size` and then one uint64_t per counter, in Stats.named's order.
        let first = (MemoryLayout<Int>.size + 7) & ~7
        let size = stats.pointee.size
        guard size >= first + 8, size <= 65536 else {
            throw ValidationError(field: "stats.size", rule: "must be set to sizeof(hm_stats)")
        }
        let counters = engine.stats.named
        let raw = UnsafeMutableRawPointer(stats)
        for index in 0..<(size - first) / 8 {
            let value = index < counters.count ? counters[index].value : 0
            raw.storeBytes(of: value, toByteOffset: first + 8 * index, as: UInt64.self)
        }
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

/// hm_shutdown() within the client's exit_flush_timeout, for a program (or a binding) that is
/// about to exit: what is still pending then is dropped and one warning line says how many
/// requests were not delivered before the exit. `*out_pending` and the result are as for
/// hm_shutdown(). Safe to repeat, and after hm_shutdown().
@c public func hm_shutdown_at_exit(
    _ client: UnsafeMutablePointer<hm_client>?, _ out_pending: UnsafeMutablePointer<UInt64>?
) -> hm_status {
    finish(client, out_pending) { $0.shutdownAtExit() }
}

/// Reads counter `stat` (an hm_stat value) into `*out`. Each call reads the counters anew:
/// use hm_stats_snapshot() for several that must agree.
@c public func hm_stats_get(
    _ client: UnsafeMutablePointer<hm_client>?, _ stat: Int32, _ out: UnsafeMutablePointer<UInt64>?
) -> hm_status {
    do throws(ValidationError) {
        let engine = try ClientBox.from(client).engine
        guard let out else { throw ValidationError(field: "out", rule: "must not be NULL") }
        let named = engine.stats.named
        guard stat >= 0, Int(stat) < named.count else {
            throw ValidationError(field: "stat", rule: "must be an hm_stat value")
        }
        out.pointee = named[Int(stat)].value
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

// MARK: Helpers

/// Checks a track call's arguments in the documented order (identity first, then eventName,
/// properties, timestamp, session) and builds its body.
private func trackBody(
    _ identity: Identity, _ eventName: UnsafePointer<CChar>?, _ propertiesJSON: UnsafePointer<CChar>?,
    _ timestamp: UnsafePointer<CChar>?, _ session: UnsafePointer<CChar>?
) throws(ValidationError) -> [UInt8] {
    // An event name of allowed characters (ASCII) is checked on its bytes; anything else takes
    // the String path, which reports invalid UTF-8 first as before.
    guard let nameBytes = CString.bytes(eventName), EventName.isValid(nameBytes) else {
        let eventName = try CString.required(eventName, field: "eventName")
        try EventName.validate(eventName)
        fatalError("unreachable: the bytes were not a valid event name")
    }
    return try RequestBody.encodeTrack(
        eventName: nameBytes, identity: identity, propertiesText: CString.bytes(propertiesJSON),
        capturedAtMilliseconds: Clock().unixMilliseconds()
    ) { () throws(ValidationError) in
        let timestamp = try CString.optional(timestamp, field: "timestamp")
        if let timestamp { try Timestamp.validate(timestamp) }
        var parsedSession: Session?
        if let text = try CString.optional(session, field: "session") { parsedSession = try Session.parse(text) }
        return (timestamp, parsedSession)
    }
}

/// The identity of a call, checked on the caller's bytes: each given field's UTF-8 first (in
/// argument order), then ``Identity/exactlyOne(userIdBytes:emailBytes:visitorIdBytes:)``'s rules.
private func readIdentity(
    _ userId: UnsafePointer<CChar>?, _ email: UnsafePointer<CChar>?, _ visitorId: UnsafePointer<CChar>?
) throws(ValidationError) -> Identity {
    try Identity.exactlyOne(
        userIdBytes: try CString.utf8(userId, field: "userId"),
        emailBytes: try CString.utf8(email, field: "email"),
        visitorIdBytes: try CString.utf8(visitorId, field: "visitorId"))
}

private func finish(
    _ client: UnsafeMutablePointer<hm_client>?, _ outPending: UnsafeMutablePointer<UInt64>?,
    _ body: (Engine) -> FlushResult
) -> hm_status {
    do throws(ValidationError) {
        let result = body(try ClientBox.from(client).engine)
        outPending?.pointee = UInt64(result.pending)
        return result.completed ? LastError.ok() : LastError.fail(.timeout)
    } catch {
        return LastError.fail(error)
    }
}
