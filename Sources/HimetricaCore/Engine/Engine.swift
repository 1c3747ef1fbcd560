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
///
/// Its jobs, one file each: the calls that queue (`Engine+Calls`), the waits for an answer
/// (`Engine+Waits`), the flush thread (`Engine+Thread`), outcomes (`Engine+Outcomes`),
/// stopping (`Engine+Stop`), `fork()` (`Engine+Fork`), the spool (`Spool/Engine+Spool`) and the
/// shared limit (`SharedLimit/Engine+SharedLimit`).
package final class Engine: @unchecked Sendable {
    let configuration: Configuration
    let baseURL: BaseURL
    /// The full URL of each endpoint, built once (not per request).
    let endpointURLs: [String]
    let clock: any EngineClock
    let makeTransport: () -> any Transport
    let logger: Logger
    /// Accepted calls on their way to the scheduler; callers never take `locked`.
    let intake: Intake
    /// Whether the flush thread has been started (read without the lock on every call).
    let threadStarted = Atomic<Bool>(false)
    /// Calls refused because the queue was full.
    let refused = Atomic<UInt64>(0)
    /// Where the flush thread is when `fork()` comes (see ``ForkGate``).
    let forkGate = ForkGate()
    /// How long past its own deadline a caller's wait (flush, shutdown, user id) waits for the
    /// flush thread's answer before it reads the answer from the engine's state itself.
    package static let waitGrace: UInt64 = 100_000_000
    /// Lines that can repeat for every call or request, each let through at most once per
    /// interval with the count held back (one flood must not flood the log).
    let queueFullLine = RepeatedLogLine(), retryLine = RepeatedLogLine()
    let rejectedLine = RepeatedLogLine(), gaveUpLine = RepeatedLogLine()
    /// The spool has reached ``Configuration/spoolMaxBytes``: calls are refused.
    let spoolFull = Atomic<Bool>(false)
    /// With ``Configuration/spool``: the spool. The reference never changes; its own fields
    /// say what guards them (most are read and changed only inside `locked`).
    let spool: SpoolLink?
    /// Used without the lock: its calls are the transport's own business (``Transport/wakeup()``
    /// from any thread, the rest on the flush thread). Replaced only in a child after `fork()`,
    /// where no other thread exists yet.
    var transport: any Transport
    /// Everything the callers and the flush thread share, reachable only holding its lock.
    let locked: Locked<State>

    /// What ``locked`` guards.
    struct State {
        var scheduler: Scheduler
        /// With `shared_limit`: takes permits from Redis on its own thread (see SharedLimit/).
        var sharedLimiter: SharedLimiter?
        var cache: UserIdCache
        var rng = SystemRandomNumberGenerator()
        var thread: pthread_t?
        /// Set by ``Engine/close()``: the thread finishes on its own and nobody joins it.
        var threadDetached = false
        var phase = Phase.running
        var stopDeadline: UInt64 = 0
        /// What stopped the engine, as the line about undelivered requests names it
        /// ("shutdown (timeout 5 s)"); set by the first call that stops it.
        var stopCause = ""
        var wakeRequested = false
        /// Outcome reports (delivery callbacks) the flush thread is running outside the lock: a
        /// flush is not done until they are.
        var reportsRunning = 0
        var idleWaiters: [(deadline: UInt64, done: @Sendable (FlushResult) -> Void)] = []
        /// Lookups waiting for a `GET /user-id` answer, by visitor. A visitor has an entry
        /// exactly while its request is queued or in flight, also when every waiter has timed
        /// out (the entry is then empty): a later lookup joins that request instead of sending
        /// another.
        var lookupWaiters: [String: [(deadline: UInt64, done: @Sendable (Result<String, HimetricaError>) -> Void)]] = [:]
        var reportedUnauthorized = false
    }

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
        transport = makeTransport()
        locked = Locked(State(
            scheduler: Scheduler(configuration: configuration, sharedLimit: sharedLimiter != nil),
            sharedLimiter: sharedLimiter,
            cache: UserIdCache(
                capacity: configuration.userIdCacheCapacity,
                notFoundTTL: configuration.notFoundCacheDuration.nanoseconds)))
        ProcessHooks.register(self)
        sharedLimiter?.attach(self)
        // With a spool there may be rows from earlier processes to send: be a candidate sender now.
        // (A thread that cannot start now is tried again, and reported, at the first call.)
        if spool != nil, let failure = locked.withLock({ startThread(in: &$0) }) { _ = reported(failure) }
    }
}
