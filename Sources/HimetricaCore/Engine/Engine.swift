import HimetricaRules
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The delivery engine behind every surface: validates nothing itself (callers pass bodies
/// built by ``RequestBody``), queues, and sends from one background flush thread.
///
/// Thread-safe. Calls that queue return at once; `flush`, `shutdown` and user-id lookups
/// report through callbacks (or block, in their blocking forms) and always end by their
/// deadline.
public final class Engine: @unchecked Sendable {
    let configuration: Configuration
    private let baseURL: BaseURL
    /// The full URL of each endpoint, built once (not per request).
    private let endpointURLs: [String]
    let clock: any EngineClock
    private let makeTransport: () -> any Transport
    let logger: Logger
    /// Accepted calls on their way to the scheduler; callers never take `lock`.
    let intake: Intake
    /// Whether the flush thread has been started (read without the lock on every call).
    private let threadStarted = Atomic<Bool>(false)
    /// Calls refused because the queue was full.
    private let refused = Atomic<UInt64>(0)
    /// Whether the queue-full warning was logged since the queue last had room.
    private let warnedFull = Atomic<Bool>(false)
    /// The spool has reached ``Configuration/spoolMaxBytes``: calls are refused.
    let spoolFull = Atomic<Bool>(false)

    // Everything below is guarded by `lock`.
    let lock = ConditionLock()
    var scheduler: Scheduler
    /// With ``Configuration/spool``: the spool (its own fields say what guards them).
    let spool: SpoolLink?
    private var transport: any Transport
    private var cache: UserIdCache
    private var rng = SystemRandomNumberGenerator()
    private var thread: pthread_t?
    /// Set by ``close()``: the thread finishes on its own and nobody joins it.
    private var threadDetached = false
    var phase = Phase.running
    var stopDeadline: UInt64 = 0
    private var wakeRequested = false
    /// Outcome reports (delivery callbacks) the flush thread is running outside the lock: a
    /// flush is not done until they are.
    var reportsRunning = 0
    var idleWaiters: [(deadline: UInt64, done: @Sendable (FlushResult) -> Void)] = []
    private var lookupWaiters: [String: [(deadline: UInt64, done: @Sendable (Result<String, HimetricaError>) -> Void)]] = [:]
    private var reportedUnauthorized = false

    enum Phase {
        /// Accepting calls and sending.
        case running
        /// No more calls; the thread sends what it can until `stopDeadline`, then stops.
        case stopping
        /// The thread has ended; calls fail with ``HimetricaError/shutDown``.
        case stopped
    }

    /// Creates an engine that sends to `configuration.endpoint` with `secretKey` over libcurl.
    public convenience init(secretKey: String, configuration: Configuration) throws(ValidationError) {
        try SecretKey.validate(secretKey)
        try configuration.validate()
        let settings = CurlTransport.Settings(
            secretKey: secretKey,
            userAgent: "himetrica-toolkit/\(Version.string) (\(configuration.surface))",
            connectTimeoutMilliseconds: Int(configuration.connectTimeout * 1000),
            timeoutMilliseconds: Int(configuration.requestTimeout * 1000),
            caFile: configuration.caFile, maxResponseBytes: configuration.maxResponseBytes,
            proxy: .fromEnvironment(https: configuration.endpoint.lowercased().hasPrefix("https://")))
        try self.init(configuration: configuration, clock: Clock(), keyFingerprint: SecretKey.fingerprint(secretKey)) {
            CurlTransport(settings: settings)
        }
    }

    /// Creates an engine with an injected clock and transport (for tests). With a spool, its
    /// rows carry `keyFingerprint`.
    init(
        configuration: Configuration, clock: any EngineClock, keyFingerprint: String = "fp_test",
        makeTransport: @escaping () -> any Transport
    ) throws(ValidationError) {
        try configuration.validate()
        spool = try Self.openSpool(configuration, fingerprint: keyFingerprint)
        self.configuration = configuration
        baseURL = try BaseURL(configuration.endpoint, allowInsecureHTTP: configuration.allowInsecureHTTP)
        endpointURLs = Endpoint.allCases.map { [baseURL] in baseURL.text + $0.path }
        self.clock = clock
        self.makeTransport = makeTransport
        logger = configuration.logger
        intake = Intake(capacity: configuration.queueCapacity)
        scheduler = Scheduler(configuration: configuration)
        transport = makeTransport()
        cache = UserIdCache(
            capacity: configuration.userIdCacheCapacity,
            notFoundTTL: configuration.notFoundCacheSeconds.nanoseconds)
        ProcessHooks.register(self)
        // With a spool there may be rows from earlier processes to send: be a candidate sender now.
        if spool != nil { lock.withLock { startThread() } }
    }

    // MARK: Calls

    /// Queues a `POST /track` or `POST /identify` body (built by ``RequestBody``) for
    /// `identity`. Returns at once.
    ///
    /// - Parameter linked: an identity whose later requests must wait for this one (see
    ///   ``RequestBody/linkedIdentity(identity:traits:)``).
    public func enqueue(_ endpoint: Endpoint, identity: Identity, body: [UInt8], linked: Identity? = nil) throws(HimetricaError) {
        let pushed: Intake.Pushed =
            spoolFull.load(ordering: .relaxed)
            ? .full : intake.push(endpoint, identity: identity, body: body, linked: linked, now: clock.monotonicNanoseconds())
        switch pushed {
        case .accepted(let first):
            if !threadStarted.load(ordering: .acquiring) {
                lock.withLock { if thread == nil, phase == .running { startThread() } }
            } else if first {
                // The flush thread takes a shard's calls all at once: only the first after
                // that needs to tell it (later ones find it knowing).
                transport.wakeup()
            }
        case .full:
            refused.wrappingAdd(1, ordering: .relaxed)
            // Warn once each time the queue fills up, not once per refused call.
            if !warnedFull.exchange(true, ordering: .relaxed) {
                if spoolFull.load(ordering: .relaxed) {
                    logger.warning("spool full (spool_max_bytes \(configuration.spoolMaxBytes)); calls are dropped until it drains")
                } else {
                    logger.warning("queue full (\(configuration.queueCapacity) requests); calls are dropped until it drains")
                }
            }
            throw .queueFull
        case .closed:
            throw .shutDown
        }
    }

    /// Resolves a browser visitor id to Himetrica's user id, from the cache or with
    /// `GET /user-id` (concurrent lookups of one visitor share one request). `done` is called
    /// once, on some thread, by `timeout` seconds at the latest.
    public func lookupUserId(visitorId: String, timeout: Double, done: @escaping @Sendable (Result<String, HimetricaError>) -> Void) {
        do throws(ValidationError) {
            try Identity.validate(visitorId, field: "visitorId")
        } catch {
            return done(.failure(.invalid(error)))
        }
        lock.lock()
        let now = clock.monotonicNanoseconds()
        guard phase == .running else {
            lock.unlock()
            return done(.failure(.shutDown))
        }
        switch cache.lookup(visitorId, now: now) {
        case .userId(let userId):
            lock.unlock()
            return done(.success(userId))
        case .notFound:
            lock.unlock()
            return done(.failure(.notFound))
        case nil:
            break
        }
        var waiters = lookupWaiters[visitorId] ?? []
        if waiters.isEmpty, !scheduler.enqueueLookup(visitorId: visitorId, now: now) {
            lock.unlock()
            return done(.failure(.queueFull))
        }
        waiters.append((now &+ timeout.nanoseconds, done))
        lookupWaiters[visitorId] = waiters
        let wake = startThreadAndRequestWake(force: true)
        lock.unlock()
        if wake { transport.wakeup() }
    }

    /// Calls `done` once everything queued so far has an outcome, or when `timeout` seconds
    /// have passed, with what is still pending then.
    public func whenIdle(timeout: Double, done: @escaping @Sendable (FlushResult) -> Void) {
        lock.lock()
        if spooling == nil { takeIntake() }
        if (isIdle && reportsRunning == 0) || phase == .stopped {
            let pending = pendingEvents
            lock.unlock()
            return done(FlushResult(pending: pending))
        }
        idleWaiters.append((clock.monotonicNanoseconds() &+ timeout.nanoseconds, done))
        let wake = startThreadAndRequestWake(force: true)
        lock.unlock()
        if wake { transport.wakeup() }
    }

    /// Blocks until everything queued so far has an outcome or `timeout` seconds pass.
    public func flush(timeout: Double) -> FlushResult {
        let result = OneShot<FlushResult>()
        whenIdle(timeout: timeout) { result.set($0) }
        return result.wait()
    }

    /// Stops taking calls, sends what it can within `timeout` seconds, then stops the flush
    /// thread. Whatever is still pending then is dropped (and reported as such). Safe to call
    /// more than once and from any thread.
    @discardableResult
    public func shutdown(timeout: Double) -> FlushResult {
        intake.close()
        lock.lock()
        let dropped = scheduler.stats.dropped
        let deadline = clock.monotonicNanoseconds() &+ timeout.nanoseconds
        switch phase {
        case .stopped:
            lock.unlock()
            return FlushResult(pending: 0)
        case .running where thread == nil:
            phase = .stopped
            let (dropped, tell) = dropEverything()
            lock.unlock()
            tell()
            return FlushResult(pending: dropped)
        case .running, .stopping:
            if phase == .running || deadline < stopDeadline { stopDeadline = deadline }
            phase = .stopping
        }
        let flushThread = thread
        let onFlushThread = flushThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        lock.unlock()
        transport.wakeup()
        guard !onFlushThread, let flushThread else {
            return FlushResult(pending: lock.withLock { scheduler.pendingEvents })
        }

        lock.lock()
        while phase != .stopped { lock.wait(untilMonotonic: clock.monotonicNanoseconds() + nanosecondsPerSecond) }
        let pending = spooling.map(\.ownWaiting) ?? Int(scheduler.stats.dropped - dropped)
        let joinable = thread != nil && !threadDetached
        thread = nil
        lock.unlock()
        if joinable { pthread_join(flushThread, nil) }
        return FlushResult(pending: pending)
    }

    /// Like ``shutdown(timeout:)`` but without waiting: the thread sends what it can within
    /// ``Configuration/exitFlushTimeout`` and then ends. For owners that are going away.
    public func close() {
        intake.close()
        lock.lock()
        if phase == .running {
            if let flushThread = thread {
                phase = .stopping
                stopDeadline = clock.monotonicNanoseconds() &+ configuration.exitFlushTimeout.nanoseconds
                pthread_detach(flushThread)
                threadDetached = true
            } else {
                phase = .stopped
            }
        }
        lock.unlock()
        transport.wakeup()
    }

    /// The counters now.
    public var stats: Stats {
        var stats = lock.withLock { spoolStats(scheduler.stats) }
        let waiting = UInt64(intake.count), refused = refused.load(ordering: .relaxed)
        stats.queued += waiting + refused
        stats.queueDepth += waiting
        stats.dropped += refused
        return stats
    }

    // MARK: The flush thread

    /// Starts the flush thread if needed and says whether the caller should wake it (at most
    /// once per loop turn, so a burst of calls costs one wakeup). Call holding the lock.
    private func startThreadAndRequestWake(force: Bool = false) -> Bool {
        if thread == nil {
            // Only a running engine gets a thread; a stopping one already has its last.
            if phase == .running { startThread() }
            return false
        }
        guard force || !wakeRequested else { return false }
        wakeRequested = true
        return true
    }

    private func startThread() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        var id = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&id, &attributes, { context in
            let engine = Unmanaged<Engine>.fromOpaque(context!).takeRetainedValue()
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            engine.run()
            return nil
        }, context)
        if rc == 0 {
            thread = id
            threadStarted.store(true, ordering: .releasing)
        } else {
            Unmanaged<Engine>.fromOpaque(context).release()
            logger.error("could not start the flush thread (pthread_create: \(rc))")
        }
    }

    private func run() {
        lock.lock()
        while true {
            let now = clock.monotonicNanoseconds()
            // New calls wait in the intake while none of them could leave anyway (in-flight
            // cap or rate limit reached): callers then append without waking this thread.
            // (With a spool, calls go from the intake to the spool on its own schedule.)
            let intakeOpensAt = spooling != nil ? nil : phase == .stopping ? now : scheduler.newRequestsStart(now: now)
            if let at = intakeOpensAt, at <= now { takeIntake() }
            if phase == .stopping, spooling == nil ? scheduler.isIdle || now >= stopDeadline : spoolDone(now: now) { break }
            wakeRequested = false
            let started = phase == .stopping && now >= stopDeadline ? [] : scheduler.takeStartable(now: now)
            var wakeAt = scheduler.nextWakeup(now: now)
            if let at = intakeOpensAt, at > now, intake.count > 0 { wakeAt = min(wakeAt ?? at, at) }
            let expired = idleWaiters.isEmpty && lookupWaiters.isEmpty ? nil : takeExpiredWaiters(now: now)
            for waiter in idleWaiters { wakeAt = min(wakeAt ?? waiter.deadline, waiter.deadline) }
            for waiters in lookupWaiters.values {
                for waiter in waiters { wakeAt = min(wakeAt ?? waiter.deadline, waiter.deadline) }
            }
            if phase == .stopping { wakeAt = min(wakeAt ?? stopDeadline, stopDeadline) }
            var turn = spooling.map { prepareSpoolTurn($0, now: now, started: started) }
            if let link = spooling, let at = spoolWakeAt(link, now: now) { wakeAt = min(wakeAt ?? at, at) }
            let current = transport
            lock.unlock()

            expired?()
            if turn != nil, performSpoolTurn(&turn!, now: now, started: started) { wakeAt = now }
            for job in started { current.start(request(for: job)) }
            let timeout = wakeAt.map { $0 > now ? min(($0 - now) / 1_000_000 + 1, 1000) : 0 } ?? 1000
            let answers = current.poll(timeoutMilliseconds: Int32(timeout))

            lock.lock()
            if answers.isEmpty, !isIdle || idleWaiters.isEmpty { continue }
            var followUps: [() -> Void] = []
            followUps.reserveCapacity(answers.count + 1)
            for (id, response) in answers {
                if let followUp = handle(id: id, response: response) { followUps.append(followUp) }
            }
            if isIdle, !idleWaiters.isEmpty { followUps.append(takeIdleWaiters()) }
            if followUps.isEmpty { continue }
            reportsRunning += 1
            lock.unlock()
            followUps.forEach { $0() }
            lock.lock()
            reportsRunning -= 1
            // A flush that started while the reports ran waited for them: it is done now.
            if isIdle, !idleWaiters.isEmpty {
                let done = takeIdleWaiters()
                lock.unlock()
                done()
                lock.lock()
            }
        }
        transport.cancelAll()
        closeSpool()
        let (_, tell) = dropEverything()
        lock.unlock()
        tell()
        lock.lock()
        let idleDone = takeIdleWaiters()
        phase = .stopped
        lock.broadcast()
        lock.unlock()
        idleDone()
    }

    private func request(for job: Job) -> OutgoingRequest {
        if let visitorId = job.visitorId {
            return OutgoingRequest(
                id: job.id, url: baseURL.text + Endpoint.userId.path + "?visitorId=" + percentEncoded(visitorId), body: nil)
        }
        return OutgoingRequest(id: job.id, url: endpointURLs[job.endpoint.rawValue], body: job.body)
    }

    /// Applies one answer; returns what to run once the lock is released.
    private func handle(id: UInt64, response: TransportResponse) -> (() -> Void)? {
        let now = clock.monotonicNanoseconds()
        let completion = scheduler.complete(
            id: id, response: response, now: now, nowUnixMilliseconds: clock.unixMilliseconds(), using: &rng)
        if let row = completion.spoolRow {
            spool?.finished(row)
        } else if completion.delivery != nil {
            finished(1)
        }
        var log: () -> Void = {}
        if completion.unauthorized, !reportedUnauthorized {
            reportedUnauthorized = true
            let logger = logger
            log = {
                logger.error(
                    "the server refused the secret key (401 Unauthorized); every request with this key will fail. Check HIMETRICA_SECRET_KEY.")
            }
        } else if let retryIn = completion.retryIn {
            let logger = logger
            let status = response.status
            let error = response.error
            log = {
                logger.debug("retrying in \(Double(retryIn) / 1e9) s after \(error ?? "HTTP \(status)")")
            }
        }
        if let lookup = completion.lookup {
            let result = lookupResult(lookup.response, classification: lookup.classification)
            switch result {
            case .success(let userId): cache.store(lookup.visitorId, userId: userId)
            case .failure(.notFound): cache.storeNotFound(lookup.visitorId, now: now)
            default: break
            }
            let waiters = lookupWaiters.removeValue(forKey: lookup.visitorId) ?? []
            return {
                log()
                waiters.forEach { $0.done(result) }
            }
        }
        // A plain delivery with no callback to call has nothing to report: no closure for it.
        guard let delivery = completion.delivery,
            delivery.outcome != .delivered || configuration.onDelivery != nil || completion.unauthorized || completion.retryIn != nil
        else {
            guard completion.unauthorized || completion.retryIn != nil else { return nil }
            return log
        }
        return { [self] in
            log()
            report([delivery])
        }
    }

    private func lookupResult(_ response: TransportResponse, classification: ResponseClass) -> Result<String, HimetricaError> {
        switch (classification, response.status) {
        case (.success, _):
            guard let userId = Self.stringMember("userId", in: response.body) else {
                return .failure(.unavailable("the user-id answer had no userId"))
            }
            return .success(userId)
        case (.rejected, 404): return .failure(.notFound)
        case (.rejected, 401): return .failure(.unauthorized)
        case (.rejected, let status):
            return .failure(.rejected(status: status, message: String(decoding: response.body.prefix(512), as: UTF8.self)))
        case (.retriable, _):
            return .failure(.unavailable(response.error ?? "HTTP \(response.status)"))
        }
    }

    /// Moves the calls waiting in the intake into the scheduler, in call order. Call holding
    /// the lock.
    func takeIntake() {
        for entry in intake.drain() {
            scheduler.enqueue(
                endpoint: entry.endpoint, identity: entry.identity, body: entry.body, linked: entry.linked,
                now: entry.queuedAt)
        }
    }

    /// At the end of the engine's life: drops every call and request still queued or in flight
    /// and fails the lookups still waiting. Call holding the lock; returns how many requests were
    /// dropped and what reports them, to run once the lock is released.
    private func dropEverything() -> (dropped: Int, tell: () -> Void) {
        if spooling == nil { takeIntake() }
        let (deliveries, _) = scheduler.dropAll()
        finished(deliveries.count)
        let waiters = takeLookupWaiters()
        return (deliveries.count, { [self] in
            report(deliveries)
            waiters.forEach { $0(.failure(.shutDown)) }
        })
    }

    /// `count` events have their final outcome: room for as many new calls.
    private func finished(_ count: Int) {
        intake.finished(count)
        if warnedFull.load(ordering: .relaxed) { warnedFull.store(false, ordering: .relaxed) }
    }

    /// Hands outcomes to the log and the delivery callback, on the calling thread.
    private func report(_ deliveries: [Delivery]) {
        var dropped = 0
        for delivery in deliveries {
            switch delivery.outcome {
            case .delivered: break
            case .rejected where delivery.status == 401: break  // logged once, loudly
            case .rejected:
                logger.warning("\(delivery.endpoint.name) rejected: \(delivery.message ?? "")")
            case .gaveUp:
                logger.error("\(delivery.endpoint.name) gave up after \(delivery.attempts) attempts: \(delivery.message ?? "")")
            case .dropped:
                dropped += 1
            }
            configuration.onDelivery?(delivery)
        }
        if dropped > 0 {
            logger.warning("\(dropped) requests dropped at shutdown (not delivered before the deadline)")
        }
    }

    func takeIdleWaiters() -> () -> Void {
        let waiters = idleWaiters
        idleWaiters = []
        let pending = pendingEvents
        return { waiters.forEach { $0.done(FlushResult(pending: pending)) } }
    }

    /// Removes every lookup waiter (at shutdown); returns their callbacks.
    private func takeLookupWaiters() -> [@Sendable (Result<String, HimetricaError>) -> Void] {
        let all = lookupWaiters.values.flatMap { $0.map(\.done) }
        lookupWaiters = [:]
        return all
    }

    /// Removes waiters whose deadline has passed; returns the calls that tell them.
    private func takeExpiredWaiters(now: UInt64) -> () -> Void {
        let pending = pendingEvents
        let idle = idleWaiters.filter { $0.deadline <= now }
        idleWaiters.removeAll { $0.deadline <= now }
        var lookups: [@Sendable (Result<String, HimetricaError>) -> Void] = []
        for (visitorId, waiters) in lookupWaiters where waiters.contains(where: { $0.deadline <= now }) {
            lookups += waiters.filter { $0.deadline <= now }.map(\.done)
            lookupWaiters[visitorId] = waiters.filter { $0.deadline > now }
        }
        return {
            idle.forEach { $0.done(FlushResult(pending: pending)) }
            lookups.forEach { $0(.failure(.timeout)) }
        }
    }

    // MARK: Process events

    /// Called in the child after `fork()` (the lock is held, taken by the prepare handler):
    /// a fresh queue, transport and thread. The parent's queue stays the parent's to send.
    func resetAfterFork() {
        lock.reinitializeAfterFork()
        transport.abandonAfterFork()
        transport = makeTransport()
        scheduler = Scheduler(configuration: configuration)
        spool?.resetAfterFork()
        spoolFull.store(false, ordering: .relaxed)
        thread = nil
        threadStarted.store(false, ordering: .relaxed)
        refused.store(0, ordering: .relaxed)
        warnedFull.store(false, ordering: .relaxed)
        idleWaiters = []
        lookupWaiters = [:]
        wakeRequested = false
        if phase == .stopping { phase = .stopped }
        intake.resetAfterFork(closed: phase != .running)
    }

    func lockForFork() {
        lock.lock()
        intake.lockForFork()
    }

    func unlockAfterFork() {
        intake.unlockAfterFork()
        lock.unlock()
    }

    /// At process exit: a bounded flush, unless called from the flush thread itself.
    func flushAtExit() {
        let onFlushThread = lock.withLock { thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        guard !onFlushThread else { return }
        _ = flush(timeout: configuration.exitFlushTimeout)
    }

    // MARK: Helpers

    /// Reads a top-level string member from a small JSON object answer.
    static func stringMember(_ name: String, in body: [UInt8]) -> String? {
        let needle = Array("\"\(name)\"".utf8)
        guard body.count >= needle.count,
            let start = (0...(body.count - needle.count)).first(where: { body[$0..<($0 + needle.count)].elementsEqual(needle) })
        else { return nil }
        var i = start + needle.count
        while i < body.count, body[i] == 0x20 || body[i] == UInt8(ascii: ":") { i += 1 }
        guard i < body.count, body[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        let valueStart = i
        while i < body.count, body[i] != UInt8(ascii: "\""), body[i] != UInt8(ascii: "\\") { i += 1 }
        guard i < body.count, body[i] == UInt8(ascii: "\""), i > valueStart else { return nil }
        return String(decoding: body[valueStart..<i], as: UTF8.self)
    }

    private func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}

/// The toolkit's version.
public enum Version {
    /// Semantic version of this build.
    public static let string = "0.1.0"
}
