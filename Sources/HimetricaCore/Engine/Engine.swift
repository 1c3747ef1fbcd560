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
package final class Engine: @unchecked Sendable {
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
    /// Where the flush thread is when `fork()` comes (see ``ForkGate``).
    let forkGate = ForkGate()
    /// How long past its own deadline a caller's wait (flush, shutdown, user id) waits for the
    /// flush thread's answer before it reads the answer from the engine's state itself.
    package static let waitGrace: UInt64 = 100_000_000
    /// Lines that can repeat for every call or request, each let through at most once per
    /// interval with the count held back (one flood must not flood the log).
    private let queueFullLine = RepeatedLogLine(), retryLine = RepeatedLogLine()
    private let rejectedLine = RepeatedLogLine(), gaveUpLine = RepeatedLogLine()
    /// The spool has reached ``Configuration/spoolMaxBytes``: calls are refused.
    let spoolFull = Atomic<Bool>(false)

    // Everything below is guarded by `lock`.
    let lock = ConditionLock()
    var scheduler: Scheduler
    /// With ``Configuration/spool``: the spool (its own fields say what guards them).
    let spool: SpoolLink?
    private var transport: any Transport
    /// With `shared_limit`: takes permits from Redis on its own thread (see SharedLimit/).
    private var sharedLimiter: SharedLimiter?
    private var cache: UserIdCache
    private var rng = SystemRandomNumberGenerator()
    private var thread: pthread_t?
    /// Set by ``close()``: the thread finishes on its own and nobody joins it.
    private var threadDetached = false
    var phase = Phase.running
    var stopDeadline: UInt64 = 0
    /// What stopped the engine, as the line about undelivered requests names it
    /// ("shutdown (timeout 5 s)"); set by the first call that stops it.
    private var stopCause = ""
    private var wakeRequested = false
    /// Outcome reports (delivery callbacks) the flush thread is running outside the lock: a
    /// flush is not done until they are.
    var reportsRunning = 0
    var idleWaiters: [(deadline: UInt64, done: @Sendable (FlushResult) -> Void)] = []
    /// Lookups waiting for a `GET /user-id` answer, by visitor. A visitor has an entry exactly
    /// while its request is queued or in flight, also when every waiter has timed out (the
    /// entry is then empty): a later lookup joins that request instead of sending another.
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
    package convenience init(secretKey: String, configuration: Configuration) throws(ValidationError) {
        try SecretKey.validate(secretKey)
        try configuration.validate()
        let settings = CurlTransport.Settings(
            secretKey: secretKey,
            userAgent: "himetrica-toolkit/\(Version.string) (\(configuration.surface))",
            connectTimeoutMilliseconds: Int(configuration.connectTimeout.nanoseconds / 1_000_000),
            timeoutMilliseconds: Int(configuration.requestTimeout.nanoseconds / 1_000_000),
            caFile: configuration.caFile, maxResponseBytes: configuration.maxResponseBytes,
            proxy: .fromEnvironment(https: configuration.endpoint.lowercased().hasPrefix("https://")))
        let sharedLimiter = try configuration.sharedLimit.map { url throws(ValidationError) in
            SharedLimiter(settings: .init(
                url: try RedisURL(url), fingerprint: SecretKey.fingerprint(secretKey), rateLimits: configuration.rateLimits,
                timeoutMilliseconds: configuration.sharedLimitTimeoutMilliseconds, logger: configuration.logger))
        }
        try self.init(
            configuration: configuration, clock: Clock(), keyFingerprint: SecretKey.fingerprint(secretKey),
            sharedLimiter: sharedLimiter
        ) {
            CurlTransport(settings: settings)
        }
    }

    /// Creates an engine with an injected clock and transport (for tests), and optionally a
    /// shared limit. With a spool, its rows carry `keyFingerprint`.
    init(
        configuration: Configuration, clock: any EngineClock, keyFingerprint: String = "fp_test",
        sharedLimiter: SharedLimiter? = nil,
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
        scheduler = Scheduler(configuration: configuration, sharedLimit: sharedLimiter != nil)
        transport = makeTransport()
        self.sharedLimiter = sharedLimiter
        cache = UserIdCache(
            capacity: configuration.userIdCacheCapacity,
            notFoundTTL: configuration.notFoundCacheDuration.nanoseconds)
        ProcessHooks.register(self)
        sharedLimiter?.attach(self)
        // With a spool there may be rows from earlier processes to send: be a candidate sender now.
        // (A thread that cannot start now is tried again, and reported, at the first call.)
        if spool != nil, let failure = lock.withLock({ startThread() }) { _ = reported(failure) }
    }

    // MARK: Calls

    /// Queues a `POST /track` or `POST /identify` body (built by ``RequestBody``) for
    /// `identity`. Returns at once.
    ///
    /// - Parameter linked: an identity whose later requests must wait for this one (see
    ///   ``RequestBody/linkedIdentity(identity:traits:)``).
    package func enqueue(_ endpoint: Endpoint, identity: Identity, body: [UInt8], linked: Identity? = nil) throws(HimetricaError) {
        // The thread starts before the call is queued, so a failed start refuses the call
        // whole (nothing waits in a queue no thread will ever read).
        if !threadStarted.load(ordering: .acquiring) {
            let failure = lock.withLock { thread == nil && phase == .running ? startThread() : nil }
            if let failure { throw reported(failure) }
        }
        let pushed: Intake.Pushed =
            spoolFull.load(ordering: .relaxed)
            ? .full : intake.push(endpoint, identity: identity, body: body, linked: linked, now: clock.monotonicNanoseconds())
        switch pushed {
        case .accepted(let first):
            if first {
                // The flush thread takes a shard's calls all at once: only the first after
                // that needs to tell it (later ones find it knowing).
                transport.wakeup()
            }
        case .full:
            refused.wrappingAdd(1, ordering: .relaxed)
            if let heldBack = queueFullLine.admit(now: clock.monotonicNanoseconds()) {
                let note = RepeatedLogLine.note(heldBack, "calls refused")
                if spoolFull.load(ordering: .relaxed) {
                    logger.warning("spool full (spool_max_bytes \(configuration.spoolMaxBytes)); calls are refused until it drains\(note)")
                } else {
                    logger.warning("queue full (\(configuration.queueCapacity) requests); calls are refused until it drains\(note)")
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
    package func lookupUserId(visitorId: String, timeout: Double, done: @escaping @Sendable (Result<String, HimetricaError>) -> Void) {
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
        if thread == nil, let failure = startThread() {
            lock.unlock()
            return done(.failure(reported(failure)))
        }
        var waiters = lookupWaiters[visitorId] ?? []
        if lookupWaiters[visitorId] == nil, !scheduler.enqueueLookup(visitorId: visitorId, now: now) {
            lock.unlock()
            return done(.failure(.queueFull))
        }
        waiters.append((now &+ timeout.nanoseconds, done))
        lookupWaiters[visitorId] = waiters
        let wake = requestWake(force: true)
        lock.unlock()
        if wake { transport.wakeup() }
    }

    /// Calls `done` once everything queued so far has an outcome, or when `timeout` seconds
    /// have passed, with what is still pending then.
    package func whenIdle(timeout: Double, done: @escaping @Sendable (FlushResult) -> Void) {
        lock.lock()
        if spooling == nil { takeIntake() }
        if (isIdle && reportsRunning == 0) || phase == .stopped {
            let pending = pendingEvents
            lock.unlock()
            return done(FlushResult(pending: pending))
        }
        if thread == nil, phase == .running, let failure = startThread() {
            // No thread will end this wait: report what is pending now.
            let pending = scheduler.pendingEvents
            lock.unlock()
            _ = reported(failure)
            return done(FlushResult(pending: pending))
        }
        idleWaiters.append((clock.monotonicNanoseconds() &+ timeout.nanoseconds, done))
        let wake = requestWake(force: true)
        lock.unlock()
        if wake { transport.wakeup() }
    }

    /// Blocks until everything queued so far has an outcome or `timeout` seconds pass. Ends
    /// by its own deadline (plus ``waitGrace``) even when the flush thread cannot answer.
    package func flush(timeout: Double) -> FlushResult {
        let (answer, giveUpAt) = startWait(timeout) { done in whenIdle(timeout: timeout, done: done) }
        return answer.wait(until: giveUpAt) ?? FlushResult(pending: pendingNow(until: giveUpAt &+ Self.waitGrace))
    }

    /// The async form of ``flush(timeout:)``: suspends instead of blocking.
    package func flush(timeout: Double) async -> FlushResult {
        let (answer, giveUpAt) = startWait(timeout) { done in whenIdle(timeout: timeout, done: done) }
        return await answer.value(until: giveUpAt) ?? FlushResult(pending: pendingNow(until: giveUpAt &+ Self.waitGrace))
    }

    /// Blocks until ``lookupUserId(visitorId:timeout:done:)`` answers, by its own deadline
    /// (``HimetricaError/timeout`` then) even when the flush thread cannot answer.
    package func userId(visitorId: String, timeout: Double) -> Result<String, HimetricaError> {
        let (answer, giveUpAt) = startWait(timeout) { done in lookupUserId(visitorId: visitorId, timeout: timeout, done: done) }
        return answer.wait(until: giveUpAt) ?? .failure(.timeout)
    }

    /// The async form of ``userId(visitorId:timeout:)``.
    package func userId(visitorId: String, timeout: Double) async -> Result<String, HimetricaError> {
        let (answer, giveUpAt) = startWait(timeout) { done in lookupUserId(visitorId: visitorId, timeout: timeout, done: done) }
        return await answer.value(until: giveUpAt) ?? .failure(.timeout)
    }

    /// Starts a call that answers through a callback; returns where its answer arrives and when
    /// the caller stops waiting for it (``Clock`` time, not the injected clock: the caller's
    /// own deadline).
    private func startWait<Value>(
        _ timeout: Double, _ start: (@escaping @Sendable (Value) -> Void) -> Void
    ) -> (OneShot<Value>, UInt64) {
        let answer = OneShot<Value>()
        let giveUpAt = Clock.monotonicNanoseconds() &+ timeout.nanoseconds &+ Self.waitGrace
        start { answer.set($0) }
        return (answer, giveUpAt)
    }

    /// Events still queued or in flight, read from the engine's state rather than asked of the
    /// flush thread. The thread holds the lock only for bookkeeping; should it not be free by
    /// `deadline`, only the calls still in the intake are counted.
    private func pendingNow(until deadline: UInt64) -> Int {
        guard lock.lock(untilMonotonic: deadline) else { return intake.count }
        defer { lock.unlock() }
        return scheduler.pendingEvents + intake.count
    }

    /// Stops taking calls, sends what it can within `timeout` seconds, then stops the flush
    /// thread. Whatever is still pending then is dropped (and reported as such). Safe to call
    /// more than once and from any thread.
    @discardableResult
    package func shutdown(timeout: Double) -> FlushResult {
        shutdown(timeout: timeout, cause: "shutdown (timeout \(Self.seconds(timeout)) s)")
    }

    /// What a binding calls as its process exits: ``shutdown(timeout:)`` within
    /// ``Configuration/exitFlushTimeout``, and the one line about requests not delivered by
    /// then says it was the exit (and which option bounds it).
    @discardableResult
    package func shutdownAtExit() -> FlushResult {
        shutdown(timeout: configuration.exitFlushTimeout.seconds, cause: exitCause)
    }

    private var exitCause: String { "exit (exit_flush_timeout \(Self.seconds(configuration.exitFlushTimeout.seconds)) s)" }

    private func shutdown(timeout: Double, cause: String) -> FlushResult {
        intake.close()
        lock.lock()
        if phase == .running { stopCause = cause }
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
        let giveUpAt = Clock.monotonicNanoseconds() &+ timeout.nanoseconds &+ Self.waitGrace
        while phase != .stopped, !threadDetached, Clock.monotonicNanoseconds() < giveUpAt {
            lock.wait(untilMonotonic: giveUpAt)
        }
        guard phase == .stopped else {
            // The thread did not stop by the deadline (stuck in a callback, say): it is given up
            // on, not waited for. It holds its own reference to the engine, so nothing it uses
            // is freed under it; whatever it still holds it drops when it gets to.
            let pending = scheduler.pendingEvents + intake.count
            if !threadDetached { pthread_detach(flushThread) }
            threadDetached = true
            lock.unlock()
            return FlushResult(pending: pending)
        }
        let pending = spooling.map(\.ownWaiting) ?? Int(scheduler.stats.dropped - dropped)
        let joinable = thread != nil && !threadDetached
        thread = nil
        lock.unlock()
        if joinable { pthread_join(flushThread, nil) }
        return FlushResult(pending: pending)
    }

    /// Like ``shutdown(timeout:)`` but without waiting: the thread sends what it can within
    /// ``Configuration/exitFlushTimeout`` and then ends. For owners that are going away.
    package func close() {
        intake.close()
        lock.lock()
        if phase == .running {
            if let flushThread = thread {
                phase = .stopping
                stopCause = "the client was freed (exit_flush_timeout \(Self.seconds(configuration.exitFlushTimeout.seconds)) s)"
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
    package var stats: Stats {
        var stats = lock.withLock { spoolStats(scheduler.stats) }
        if let sharedLimiter = lock.withLock({ sharedLimiter }) {
            stats.sharedFallbacks = sharedLimiter.fallbacks.load(ordering: .relaxed)
            stats.redisErrors = sharedLimiter.errors.load(ordering: .relaxed)
        }
        let waiting = UInt64(intake.count), refused = refused.load(ordering: .relaxed)
        stats.queued += waiting + refused
        stats.queueDepth += waiting
        stats.dropped += refused
        return stats
    }

    // MARK: The flush thread

    /// Says whether the caller should wake the flush thread (at most once per loop turn, so a
    /// burst of calls costs one wakeup); never while there is no thread. Call holding the lock.
    private func requestWake(force: Bool = false) -> Bool {
        guard thread != nil, force || !wakeRequested else { return false }
        wakeRequested = true
        return true
    }

    /// Starts the flush thread; returns the error when the system refuses. Call holding the
    /// lock, with no thread running, and pass a failure to ``reported(_:)`` once unlocked.
    private func startThread() -> HimetricaError? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        var id = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        forkGate.threadStarting()
        let rc = pthread_create(&id, &attributes, { context in
            Engine.threadMain(context!)
            return nil
        }, context)
        guard rc == 0 else {
            forkGate.threadEnded()
            Unmanaged<Engine>.fromOpaque(context).release()
            return .system("could not start the flush thread (pthread_create: \(String(cString: strerror(rc))))")
        }
        thread = id
        threadStarted.store(true, ordering: .releasing)
        return nil
    }

    /// Logs a failed thread start and returns it. Call without the lock: a log callback may
    /// call back into the engine (to read its counters, say).
    private func reported(_ failure: HimetricaError) -> HimetricaError {
        logger.error("\(failure.description)")
        return failure
    }

    /// The flush thread's body. Its reference to the engine keeps the engine alive for as long
    /// as the thread runs, also after a shutdown that gave up on it.
    private static func threadMain(_ context: UnsafeMutableRawPointer) {
        let gate: ForkGate
        do {
            let engine = Unmanaged<Engine>.fromOpaque(context).takeRetainedValue()
            gate = engine.forkGate
            gate.bindToCurrentThread()
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            engine.run()
        }
        gate.threadEnded()
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
            if let sharedLimiter, !sharedLimiter.publish(demand: scheduler.sharedDemand(now: now)) {
                scheduler.sharedFallBack(senders: 1, now: now)
            }
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
            passForkGate()

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
        sharedLimiter?.stop()
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

    /// The flush thread's fork safe point, right after each poll: it holds no lock and runs no
    /// libcurl, TLS or Swift runtime code here, so it parks here while a fork is in progress.
    private func passForkGate() {
        let forksWithoutSafePoint = forkGate.pass()
        guard forksWithoutSafePoint > 0 else { return }
        logger.warning(
            "fork() went ahead before the flush thread reached a safe point",
            metadata: ["forks": "\(forksWithoutSafePoint)", "waitedSeconds": "\(Double(ForkGate.safePointWait) / 1e9)"])
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
        if let pause = completion.pause {
            sharedLimiter?.publishPause(pause.endpoint, milliseconds: Int(pause.nanoseconds / 1_000_000))
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
            let logger = logger, line = retryLine
            let status = response.status
            let error = response.error
            log = {
                guard let heldBack = line.admit(now: now) else { return }
                logger.debug(
                    "retrying in \(Double(retryIn) / 1e9) s after \(error ?? "HTTP \(status)")\(RepeatedLogLine.note(heldBack, "retries"))")
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
            guard let answer = try? response.body.withUnsafeBufferPointer({ try JSONText.compactObject($0, field: "answer") }),
                let userId = JSONText.topLevelString("userId", in: answer), !userId.isEmpty
            else {
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
        let cause = stopCause
        return (deliveries.count, { [self] in
            report(deliveries)
            if !deliveries.isEmpty { logger.warning("\(Self.undelivered(deliveries.count, before: cause))") }
            waiters.forEach { $0(.failure(.shutDown)) }
        })
    }

    /// `count` events have their final outcome: room for as many new calls.
    private func finished(_ count: Int) {
        intake.finished(count)
    }

    /// Hands outcomes to the log and the delivery callback, on the calling thread.
    /// Dropped requests are not logged here: ``dropEverything()`` logs one line for all.
    private func report(_ deliveries: [Delivery]) {
        let now = clock.monotonicNanoseconds()
        for delivery in deliveries {
            switch delivery.outcome {
            case .delivered, .dropped: break
            case .rejected where delivery.status == 401: break  // logged once, loudly
            case .rejected:
                if let heldBack = rejectedLine.admit(now: now) {
                    logger.warning(
                        "\(delivery.endpoint.name) rejected: \(delivery.message ?? "")\(RepeatedLogLine.note(heldBack, "rejections"))")
                }
            case .gaveUp:
                if let heldBack = gaveUpLine.admit(now: now) {
                    logger.error(
                        "\(delivery.endpoint.name) gave up after \(delivery.attempts) attempts: \(delivery.message ?? "")\(RepeatedLogLine.note(heldBack, "requests given up"))")
                }
            }
            configuration.onDelivery?(delivery)
        }
    }

    /// The one line for requests a client could not deliver before it stopped.
    static func undelivered(_ count: Int, before cause: String) -> String {
        (count == 1 ? "1 request was" : "\(count) requests were")
            + " not delivered before \(cause); set the spool option to keep them across restarts"
    }

    /// Seconds as a message shows them: `2`, `0.5`.
    private static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
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
        forkGate.resetInChild()
        transport.abandonAfterFork()
        transport = makeTransport()
        scheduler = Scheduler(configuration: configuration, sharedLimit: sharedLimiter != nil)
        // The parent's limiter (its thread, lock and connection) is the parent's: left alone
        // on purpose, never freed here, as its lock may be held by a thread that is not here.
        if let parent = sharedLimiter {
            _ = Unmanaged.passRetained(parent)
            sharedLimiter = parent.forChild()
            sharedLimiter?.attach(self)
        }
        spool?.resetAfterFork()
        spoolFull.store(false, ordering: .relaxed)
        thread = nil
        threadStarted.store(false, ordering: .relaxed)
        refused.store(0, ordering: .relaxed)
        idleWaiters = []
        lookupWaiters = [:]
        wakeRequested = false
        if phase == .stopping { phase = .stopped }
        intake.resetAfterFork(closed: phase != .running)
    }

    /// Before `fork()`, first step: tells the flush thread to park at its next safe point and
    /// wakes it out of its poll so it gets there now.
    func announceFork() {
        forkGate.forkBegins()
        transport.wakeup()
    }

    /// Before `fork()`, once the flush thread is at a safe point (or the wait for it ended).
    func lockForFork() {
        lock.lock()
        intake.lockForFork()
    }

    /// In the parent after `fork()`.
    func unlockAfterFork() {
        intake.unlockAfterFork()
        lock.unlock()
        forkGate.forkEnded()
    }

    /// At process exit: a bounded flush, unless called from the flush thread itself.
    /// When requests are left, one line says so (a stopping engine says it itself when it
    /// drops them).
    func flushAtExit() {
        lock.lock()
        let onFlushThread = thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        let running = phase == .running
        lock.unlock()
        guard !onFlushThread else { return }
        let result = flush(timeout: configuration.exitFlushTimeout.seconds)
        if running, result.pending > 0 { logger.warning("\(Self.undelivered(result.pending, before: exitCause))") }
    }

    // MARK: Helpers

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

extension Engine: PermitSink {
    func sharedPermitsGranted(_ endpoint: Endpoint, count: Int, expiresAt: UInt64) {
        lock.withLock {
            scheduler.grantShared(endpoint, count: count, expiresAt: expiresAt)
            sharedLimiter?.demandMet(endpoint)
        }
        transport.wakeup()
    }

    func sharedPause(_ endpoint: Endpoint, until: UInt64) {
        lock.withLock { scheduler.pauseShared(endpoint, until: until) }
    }

    func sharedLimitDown(senders: Int) {
        lock.withLock { scheduler.sharedFallBack(senders: senders, now: clock.monotonicNanoseconds()) }
        transport.wakeup()
    }

    func sharedLimitUp() -> [[UInt64]] {
        lock.withLock { scheduler.sharedResume(now: clock.monotonicNanoseconds()) }
    }
}

