import HimetricaRules
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the shared limit's thread tells the engine it serves. Each call takes the engine's
/// lock briefly and never waits for Redis.
protocol PermitSink: AnyObject, Sendable {
    /// Redis granted `count` permits for `endpoint`, usable until `expiresAt` (monotonic ns).
    func sharedPermitsGranted(_ endpoint: Endpoint, count: Int, expiresAt: UInt64)
    /// Some host of this key was told to wait: no request to `endpoint` before `until`.
    func sharedPause(_ endpoint: Endpoint, until: UInt64)
    /// Redis is away: keep to the fallback limit, sized for `senders` live senders.
    func sharedLimitDown(senders: Int)
    /// Redis is back; returns per endpoint the ages (ns) of the requests sent under the
    /// fallback in the last window, for Redis to count.
    func sharedLimitUp() -> [[UInt64]]
}

/// Takes permits for one secret key from Redis on a thread of its own, so the flush thread
/// never waits for Redis: the flush thread publishes how many permits it could use
/// (``publish(demand:)``) and consumes what the sink is handed.
///
/// Every Redis call is bounded by the timeout (default 200 ms). Any failure (refused, timed
/// out, wrong password, not Redis, a script error) puts the sink in fallback mode, is logged
/// once, and Redis is tried again with ``ReconnectBackoff`` until it answers.
final class SharedLimiter: @unchecked Sendable {
    /// What the limiter needs to know.
    struct Settings: Sendable {
        var url: RedisURL
        /// ``SecretKey/fingerprint(_:)`` of the key: the Redis keys carry it, never the key.
        var fingerprint: String
        var rateLimits: [Endpoint: RateLimit?]
        var timeoutMilliseconds: Int
        var logger: Logger
    }

    let settings: Settings
    /// Times Redis was lost and the fallback limit took over.
    let fallbacks = Atomic<UInt64>(0)
    /// Redis calls that failed (connection, timeout, error answers).
    let errors = Atomic<UInt64>(0)
    /// Where the limiter's thread is when `fork()` comes: at rest while waiting for work or
    /// inside a Redis call (hiredis) or a log callback, parked on the way back from those
    /// while a fork is in progress. The fork handlers wait for it (``ProcessHooks``).
    let forkGate = ForkGate()

    private let senderId: String
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var demand: [Int]
    private var pauses: [(Endpoint, Int)] = []
    private var stopping = false
    private var started = false
    private weak var sink: (any PermitSink)?

    // Owned by the limiter's thread.
    private var connection: RedisConnection?
    private var scriptSHA: String?
    private var down = false
    private var backoff = ReconnectBackoff()
    private var reconnectAt: UInt64 = 0
    private var nextLeaseAt: [UInt64]
    private var heartbeatAt: UInt64 = 0
    private var senders = 1
    /// Per endpoint, the ages (ns, as of `unreportedAt`) of requests sent without Redis.
    private var unreported: [[UInt64]]
    private var unreportedAt: UInt64 = 0
    private var leaseSequence: UInt64 = 0
    private var rng = SystemRandomNumberGenerator()

    init(settings: Settings) {
        self.settings = settings
        var rng = SystemRandomNumberGenerator()
        senderId = String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 36) + "-\(getpid())"
        demand = Array(repeating: 0, count: Endpoint.allCases.count)
        nextLeaseAt = demand.map { _ in 0 }
        unreported = demand.map { _ in [] }
    }

    /// Sets who gets the permits (held weakly: the engine owns the limiter).
    func attach(_ sink: any PermitSink) { lock.withLock { self.sink = sink } }

    /// The permits the flush thread could use now, per endpoint (``Endpoint/rawValue``).
    /// Never blocks on Redis: it only records the numbers and wakes the limiter's thread
    /// (started on the first call). False when that thread could not be started: the caller
    /// then keeps to the fallback limit.
    func publish(demand new: [Int]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let wake = new != demand && new.contains { $0 > 0 }
        demand = new
        if !started, !stopping {
            started = true
            if !startThread() {
                stopping = true
                return false
            }
        }
        if wake { lock.broadcast() }
        return true
    }

    /// A grant for `endpoint` reached the scheduler: its old demand is met. Called by the
    /// sink holding the engine's lock, so no demand computed before the grant survives it.
    func demandMet(_ endpoint: Endpoint) { lock.withLock { demand[endpoint.rawValue] = 0 } }

    /// One host was told to wait `milliseconds` on `endpoint` (429, Retry-After): tell them all.
    func publishPause(_ endpoint: Endpoint, milliseconds: Int) {
        guard milliseconds > 0 else { return }
        lock.withLock {
            pauses.append((endpoint, milliseconds))
            lock.broadcast()
        }
    }

    /// Ends the thread after its current Redis call (at most the timeout); does not wait.
    func stop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    /// A limiter with the same settings, for a child process after `fork()`: the parent's
    /// thread does not exist there, and its connection is the parent's. The child's copy of
    /// that socket is closed, unused; the new limiter connects on its own, as a sender of its
    /// own (its id carries the child's pid). The thread was at a fork safe point, so
    /// `connection` is not half-written.
    func forChild() -> SharedLimiter {
        connection?.abandonAfterFork()
        return SharedLimiter(settings: settings)
    }

    // MARK: The thread

    private func startThread() -> Bool {
        ProcessHooks.register(forkGate)
        forkGate.threadStarting()
        let context = Unmanaged.passRetained(self).toOpaque()
        var id = pthread_t()
        let rc = pthread_create(&id, nil, { context in
            let limiter = Unmanaged<SharedLimiter>.fromOpaque(context!).takeRetainedValue()
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            limiter.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<SharedLimiter>.fromOpaque(context).release()
            forkGate.threadEnded()
            fallbacks.wrappingAdd(1, ordering: .relaxed)
            settings.logger.error(
                "shared rate limit: could not start its thread; keeping to the fallback limit",
                metadata: ["pthread_create": "\(rc)"])
            return false
        }
        pthread_detach(id)
        return true
    }

    private func run() {
        forkGate.bindToCurrentThread()
        lock.lock()
        while !stopping {
            let now = Clock.monotonicNanoseconds()
            var due = connection == nil ? reconnectAt : heartbeatAt
            if !pauses.isEmpty { due = now }
            if connection != nil {
                for (index, wanted) in demand.enumerated() where wanted > 0 { due = min(due, nextLeaseAt[index]) }
            }
            if due > now {
                // Waiting is a fork safe point; the lock is let go before the thread may park,
                // so a parked thread never holds it (the flush thread takes it in publish).
                let gate = ForkGate.enterBlockingCall()
                lock.wait(untilMonotonic: due)
                lock.unlock()
                ForkGate.exitCallout(gate)
                lock.lock()
                continue
            }
            let wanted = demand
            let paused = pauses
            pauses = []
            lock.unlock()
            step(wanted: wanted, pauses: paused)
            lock.lock()
        }
        lock.unlock()
        connection = nil
        forkGate.threadEnded()
    }

    /// One round: connect if needed, spread pauses, lease what is wanted, heartbeat.
    private func step(wanted: [Int], pauses: [(Endpoint, Int)]) {
        if connection == nil {
            do throws(RedisFailure) {
                connection = try RedisConnection(url: settings.url, timeoutMilliseconds: settings.timeoutMilliseconds)
            } catch {
                return fail(error)
            }
            scriptSHA = nil
            backoff.reset()
            if down {
                down = false
                unreported = sink?.sharedLimitUp() ?? unreported
                unreportedAt = Clock.monotonicNanoseconds()
                settings.logger.notice(
                    "shared rate limit: Redis is back; using shared permits again",
                    metadata: ["redis": "\(settings.url.redacted)"])
            }
        }
        for (endpoint, milliseconds) in pauses {
            guard case .success = runScript(endpoint, action: "pause", want: 0, extra: String(milliseconds)) else { return }
        }
        let now = Clock.monotonicNanoseconds()
        var leased = false
        for endpoint in Endpoint.allCases {
            guard let limit = settings.rateLimits[endpoint] ?? nil, wanted[endpoint.rawValue] > 0,
                now >= nextLeaseAt[endpoint.rawValue]
            else { continue }
            guard lease(endpoint, limit: limit, demand: wanted[endpoint.rawValue]) else { return }
            leased = true
        }
        if !leased, now >= heartbeatAt,
            let endpoint = Endpoint.allCases.first(where: { (settings.rateLimits[$0] ?? nil) != nil })
        {
            _ = lease(endpoint, limit: settings.rateLimits[endpoint]!!, demand: 0)
        }
    }

    /// Asks for permits (none: a heartbeat). False when Redis failed.
    private func lease(_ endpoint: Endpoint, limit: RateLimit, demand: Int) -> Bool {
        let askedAt = Clock.monotonicNanoseconds()
        let want = LeasePlan.want(demand: demand, count: limit.count, senders: senders)
        let since = askedAt &- unreportedAt
        let ages = unreported[endpoint.rawValue].map { String(($0 &+ since) / 1_000_000) }.joined(separator: ",")
        let result = runScript(endpoint, action: "lease", want: want, extra: ages)
        guard case .success(let answer) = result else { return false }
        unreported[endpoint.rawValue] = []
        senders = max(1, answer.senders)
        heartbeatAt = askedAt &+ LeasePlan.heartbeatInterval
        let now = Clock.monotonicNanoseconds()
        if answer.pausedMilliseconds > 0 {
            let until = now &+ UInt64(answer.pausedMilliseconds) * 1_000_000
            nextLeaseAt[endpoint.rawValue] = until
            sink?.sharedPause(endpoint, until: until)
        } else if answer.granted > 0 {
            sink?.sharedPermitsGranted(endpoint, count: answer.granted, expiresAt: askedAt &+ LeasePlan.leaseLifetime)
        }
        // The window is full: asking before the retry time would only be answered 0.
        if answer.retryMilliseconds > 0, answer.pausedMilliseconds == 0 {
            nextLeaseAt[endpoint.rawValue] = now &+ UInt64(answer.retryMilliseconds) * 1_000_000
        }
        return true
    }

    private func runScript(_ endpoint: Endpoint, action: String, want: Int, extra: String) -> Result<PermitScript.Answer, RedisFailure> {
        guard let connection, let limit = settings.rateLimits[endpoint] ?? nil else {
            return .failure(RedisFailure(message: "not connected"))
        }
        leaseSequence += 1
        let arguments = [
            action, String(limit.count),
            String(LeasePlan.scriptWindowMilliseconds(window: limit.window.nanoseconds)), String(want), senderId,
            String(LeasePlan.heartbeatLifetime / 1_000_000), extra, String(leaseSequence),
        ]
        let result = PermitScript.run(
            on: connection, sha: &scriptSHA,
            keys: PermitScript.keys(fingerprint: settings.fingerprint, endpoint: endpoint), arguments: arguments)
        if case .failure(let failure) = result { fail(failure) }
        return result
    }

    /// Redis failed: drop the connection, fall back (logged once per outage), retry later.
    private func fail(_ failure: RedisFailure) {
        errors.wrappingAdd(1, ordering: .relaxed)
        connection = nil
        reconnectAt = Clock.monotonicNanoseconds() &+ backoff.delay(using: &rng)
        guard !down else {
            settings.logger.debug("shared rate limit: Redis still unavailable", metadata: ["error": "\(failure.message)"])
            return
        }
        down = true
        fallbacks.wrappingAdd(1, ordering: .relaxed)
        sink?.sharedLimitDown(senders: senders)
        settings.logger.warning(
            "shared rate limit: Redis unavailable; keeping to a local share of the limit until it is back",
            metadata: [
                "redis": "\(settings.url.redacted)", "error": "\(failure.message)", "senders": "\(senders)",
                "wrong_credentials": "\(failure.authentication)",
            ])
    }
}
