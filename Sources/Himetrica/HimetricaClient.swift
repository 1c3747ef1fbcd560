import FoundationEssentials
public import HimetricaCore
public import HimetricaRules
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// A Himetrica Server API client: validates calls at once, queues them, and delivers them from
/// a background flush thread with rate limits, retries and per-visitor ordering.
///
/// ```swift
/// let himetrica = try HimetricaClient(secretKey: "hm_sk_...")
/// try himetrica.track("invoice_paid", identity: .email("jane@example.com"),
///                     properties: ["amount": 99.99, "currency": "USD"])
/// let userId = try await himetrica.userId(forVisitor: "abc123")
/// await himetrica.shutdown()
/// ```
///
/// Run it as a swift-service-lifecycle `Service` to have graceful shutdown flush it.
public final class HimetricaClient: Sendable {
    private let engine: Engine

    /// Creates a client for `secretKey` (`hm_sk_...`; never shown in any output).
    ///
    /// - Throws: ``ValidationError`` for a malformed key or an out-of-range configuration,
    ///   naming the option and the rule.
    public init(secretKey: String, configuration: Configuration = Configuration()) throws(ValidationError) {
        engine = try Engine(secretKey: secretKey, configuration: configuration)
    }

    deinit {
        engine.close()
    }

    /// Queues a custom event about `identity`. Returns at once; without a `timestamp` the event
    /// is stamped with the time of this call.
    ///
    /// - Throws: ``HimetricaError/invalid(_:)`` naming the field and rule (nothing is queued),
    ///   ``HimetricaError/queueFull`` or ``HimetricaError/shutDown``.
    public func track(
        _ eventName: String, identity: Identity, properties: JSONValue? = nil, timestamp: Date? = nil,
        session: Session? = nil
    ) throws(HimetricaError) {
        let body = try Self.checked { () throws(ValidationError) in
            try RequestBody.track(
                eventName: eventName, identity: identity,
                properties: try properties.map { (value) throws(ValidationError) in
                    try JSONWriter.object(value, field: "properties")
                },
                timestamp: try Self.iso8601(timestamp), session: session,
                capturedAtMilliseconds: Clock().unixMilliseconds())
        }
        try engine.enqueue(.track, identity: identity, body: body)
    }

    /// Queues a custom event whose properties are any `Encodable` value that encodes as a JSON
    /// object.
    public func track(
        _ eventName: String, identity: Identity, properties: some Encodable, timestamp: Date? = nil,
        session: Session? = nil
    ) throws(HimetricaError) {
        let json = try Self.encode(properties, field: "properties", stringMembers: [])
        let body = try Self.checked { () throws(ValidationError) in
            try RequestBody.track(
                eventName: eventName, identity: identity, properties: json,
                timestamp: try Self.iso8601(timestamp), session: session,
                capturedAtMilliseconds: Clock().unixMilliseconds())
        }
        try engine.enqueue(.track, identity: identity, body: body)
    }

    /// Queues a custom event whose properties are given as JSON text (an object).
    public func track(
        _ eventName: String, identity: Identity, propertiesJSON: String, timestamp: Date? = nil,
        session: Session? = nil
    ) throws(HimetricaError) {
        let body = try Self.checked { () throws(ValidationError) in
            try RequestBody.track(
                eventName: eventName, identity: identity,
                properties: try JSONText.compactObject(propertiesJSON, field: "properties"),
                timestamp: try Self.iso8601(timestamp), session: session,
                capturedAtMilliseconds: Clock().unixMilliseconds())
        }
        try engine.enqueue(.track, identity: identity, body: body)
    }

    /// Queues an update of a visitor's traits: `name`, `email`, `userId` (your own stable id,
    /// for cross-device merging) and any others, stored as metadata.
    public func identify(_ identity: Identity, traits: JSONValue) throws(HimetricaError) {
        try enqueueIdentify(identity) { () throws(ValidationError) in
            try JSONWriter.object(traits, field: "traits", stringMembers: RequestBody.namedTraits)
        }
    }

    /// Queues an update of a visitor's traits given as JSON text (an object).
    public func identify(_ identity: Identity, traitsJSON: String) throws(HimetricaError) {
        try enqueueIdentify(identity) { () throws(ValidationError) in
            try JSONText.compactObject(traitsJSON, field: "traits", stringMembers: RequestBody.namedTraits)
        }
    }

    /// Queues an update of a visitor's traits given as any `Encodable` object.
    public func identify(_ identity: Identity, traits: some Encodable) throws(HimetricaError) {
        let json = try Self.encode(traits, field: "traits", stringMembers: RequestBody.namedTraits)
        try enqueueIdentify(identity) { () throws(ValidationError) in json }
    }

    /// Builds an identify body from checked traits and queues it, ordered before later
    /// requests by the email it sets.
    private func enqueueIdentify(_ identity: Identity, traits: () throws(ValidationError) -> [UInt8]) throws(HimetricaError) {
        var json: [UInt8] = []
        let body = try Self.checked { () throws(ValidationError) in
            json = try traits()
            return try RequestBody.identify(identity: identity, traits: json)
        }
        try engine.enqueue(
            .identify, identity: identity, body: body, linked: RequestBody.linkedIdentity(identity: identity, traits: json))
    }

    /// Resolves a browser visitor id (the tracker's `hm_vid`) to Himetrica's user id
    /// (`hm_usr_...`). Answers are cached; concurrent lookups of one visitor share one request.
    ///
    /// - Throws: ``HimetricaError/notFound`` for an unknown visitor, ``HimetricaError/timeout``
    ///   after `timeout`, and the other ``HimetricaError`` cases.
    public func userId(forVisitor visitorId: String, timeout: Duration = .seconds(10)) async throws(HimetricaError) -> String {
        try await engine.userId(visitorId: visitorId, timeout: timeout.seconds).get()
    }

    /// Waits until everything queued so far has an outcome, or `timeout` passes (then it
    /// reports what is still pending, also when the flush thread cannot answer).
    @discardableResult
    public func flush(timeout: Duration = .seconds(5)) async -> FlushResult {
        await engine.flush(timeout: timeout.seconds)
    }

    /// Stops taking calls, delivers what it can within `timeout`, and stops the flush thread.
    /// What is still pending then is dropped and reported. Safe to call more than once.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(5)) async -> FlushResult {
        await withCheckedContinuation { continuation in
            let engine = engine
            Thread.runBlocking { continuation.resume(returning: engine.shutdown(timeout: timeout.seconds)) }
        }
    }

    /// The blocking form of ``shutdown(timeout:)``, for synchronous shutdown paths (such as
    /// Vapor's `Application.shutdown()`). It blocks the calling thread, so it is unavailable
    /// from async code: use ``shutdown(timeout:)`` there.
    @available(*, noasync, message: "use `await shutdown(timeout:)`")
    @discardableResult
    public func shutdownBlocking(timeout: Duration = .seconds(5)) -> FlushResult {
        engine.shutdown(timeout: timeout.seconds)
    }

    /// The client's counters now.
    public var stats: Stats { engine.stats }

    private static func checked(_ build: () throws(ValidationError) -> [UInt8]) throws(HimetricaError) -> [UInt8] {
        do throws(ValidationError) {
            return try build()
        } catch {
            throw .invalid(error)
        }
    }

    private static func encode(_ value: some Encodable, field: String, stringMembers: [String]) throws(HimetricaError) -> [UInt8] {
        let data: Data
        do {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            data = try encoder.encode(value)
        } catch {
            throw .invalid(ValidationError(field: field, rule: "could not be encoded as JSON (\(error))"))
        }
        return try checked { () throws(ValidationError) in
            try JSONText.compactObject(
                String(decoding: data, as: UTF8.self), field: field, stringMembers: stringMembers)
        }
    }

    private static func iso8601(_ date: Date?) throws(ValidationError) -> String? {
        guard let date else { return nil }
        let ms = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard ms >= Double(Timestamp.representable.lowerBound), ms <= Double(Timestamp.representable.upperBound) else {
            throw ValidationError(field: "timestamp", rule: "must be between the years 0001 and 9999")
        }
        return try Timestamp.format(unixMilliseconds: Int64(ms))
    }
}

extension HimetricaClient: Service {
    /// Runs until graceful shutdown, then delivers what is queued (waiting at most five
    /// seconds) and shuts the client down.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

/// Runs blocking work on a new thread so it never occupies a Swift concurrency thread.
enum Thread {
    /// `pthread_create`'s shape, so a test can make starting a thread fail.
    typealias Start = (
        UnsafeMutablePointer<pthread_t>, UnsafePointer<pthread_attr_t>?,
        @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
    ) -> Int32

    /// Runs `work` on a new thread, or on this one when the system refuses a thread: `work`
    /// always runs exactly once, so a caller waiting for what it does is never left waiting.
    static func runBlocking(_ work: @escaping @Sendable () -> Void, start: Start = pthread_create) {
        if detachBlocking(work, start: start) != 0 { work() }
    }

    /// Starts `work` on a new, detached thread. Returns 0, or `pthread_create`'s error when no
    /// thread could be started (then `work` has not run and never will).
    static func detachBlocking(_ work: @escaping @Sendable () -> Void, start: Start = pthread_create) -> Int32 {
        final class Box { let work: @Sendable () -> Void; init(_ w: @escaping @Sendable () -> Void) { work = w } }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(work)).toOpaque()
        let rc = start(&thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().work()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return rc
        }
        pthread_detach(thread)
        return 0
    }
}
