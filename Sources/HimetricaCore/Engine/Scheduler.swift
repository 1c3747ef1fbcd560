import HimetricaRules

/// A request waiting in the queue or in flight.
struct Job {
    let id: UInt64
    let endpoint: Endpoint
    /// Requests about the same identity leave in call order, one at a time. Lookups have none.
    let lane: Identity?
    /// The exact HTTP body (empty for a lookup).
    let body: [UInt8]
    /// For a user-id lookup, the visitor id.
    let visitorId: String?
    /// Monotonic time it was queued.
    let enqueuedAt: UInt64
    var attempts = 0
    /// The spool row it came from (a spooled job's outcome removes the row, and shutdown
    /// leaves it in the spool instead of dropping it).
    var spoolRow: Int64?
    /// Loaded from the spool after an earlier sender started it: its next start is a resend.
    var resend = false
    /// Set on a placeholder: it holds its lane until job `placeholderFor` (in another lane)
    /// has an outcome, and is never sent itself.
    var placeholderFor: UInt64?
}

/// An HTTP answer, or the lack of one, as the transport reports it.
package struct TransportResponse: Sendable {
    /// The HTTP status, or 0 when no answer arrived.
    package var status: Int
    /// Why no answer arrived (timeout, connection refused, …).
    package var error: String?
    /// The `Retry-After` header.
    package var retryAfter: String?
    /// The `X-RateLimit-Remaining` header.
    package var rateLimitRemaining: String?
    /// The `X-RateLimit-Reset` header.
    package var rateLimitReset: String?
    /// The body, at most the configured cap.
    package var body: [UInt8]

    /// A response with the given fields.
    package init(status: Int, error: String? = nil, retryAfter: String? = nil, rateLimitRemaining: String? = nil,
                rateLimitReset: String? = nil, body: [UInt8] = []) {
        self.status = status
        self.error = error
        self.retryAfter = retryAfter
        self.rateLimitRemaining = rateLimitRemaining
        self.rateLimitReset = rateLimitReset
        self.body = body
    }
}

/// What finishing a request led to.
struct Completion {
    /// For track and identify: the final outcome, if this was the last attempt.
    var delivery: Delivery?
    /// For a lookup that ended: the visitor and the answer.
    var lookup: (visitorId: String, response: TransportResponse, classification: ResponseClass)?
    /// The server refused the key (401).
    var unauthorized = false
    /// A retry was scheduled this many ns from now.
    var retryIn: UInt64?
    /// The server asked this endpoint to wait this many ns (a 429 or 503 with Retry-After):
    /// with a shared limit, every host of the key is told.
    var pause: (endpoint: Endpoint, nanoseconds: UInt64)?
    /// For a final outcome of a spooled request: its row.
    var spoolRow: Int64?
}

/// The engine's state machine: which request may leave when. Pure: no threads, no I/O, time
/// passed in, so tests drive it exactly.
///
/// Keeps per-identity order (a lane's next request leaves only after the previous has an
/// outcome), the per-endpoint sliding-window limits, the in-flight cap, backoff, and the
/// counters.
struct Scheduler {
    private(set) var stats = Stats()
    private let lookupCapacity: Int
    private let maxInFlight: Int
    private let retry: RetryPolicy
    private var limiters: [SlidingWindowLimiter?]
    /// With `shared_limit`: permits leased from Redis (or its fallback), on top of `limiters`.
    private var shared: SharedPermits?
    private var blockedUntil: [UInt64]

    private var lanes: [Identity: FIFO<Job>] = [:]
    /// Per endpoint, lanes whose head may leave now (lookups: the jobs themselves).
    private var readyLanes: [FIFO<Identity>]
    private var readyLookups = FIFO<Job>()
    /// Lanes (or lookups) waiting out a backoff.
    private var backoff = TimerHeap<Waiting>()
    private var inFlight: [UInt64: Job] = [:]
    /// Jobs that also hold a placeholder in another lane: job id → that lane.
    private var placeholderLanes: [UInt64: Identity] = [:]
    /// Jobs with an outcome whose placeholder has not reached the head of its lane yet.
    private var finishedWithPlaceholder: Set<UInt64> = []
    private var lookupsPending = 0
    private var nextId: UInt64 = 1

    private enum Waiting {
        case lane(Identity)
        case lookup(Job)
    }

    /// Sends are attempted in this order each round: a caller waits on lookups.
    private static let priority: [Endpoint] = [.userId, .identify, .track]

    /// - Parameter sharedLimit: whether requests also need a permit from the shared limit
    ///   (handed in with ``grantShared(_:count:expiresAt:)``).
    init(configuration: Configuration, sharedLimit: Bool = false) {
        lookupCapacity = configuration.queueCapacity
        maxInFlight = configuration.maxInFlight
        retry = RetryPolicy(
            maxAttempts: configuration.maxAttempts, maxAge: configuration.maxRetryAge.nanoseconds,
            baseDelay: configuration.retryBaseDelay.nanoseconds, maxDelay: configuration.retryMaxDelay.nanoseconds)
        limiters = Endpoint.allCases.map { endpoint in
            (configuration.rateLimits[endpoint] ?? nil).map {
                SlidingWindowLimiter(limit: $0.count, window: $0.window.nanoseconds)
            }
        }
        if sharedLimit {
            shared = SharedPermits(rateLimits: configuration.rateLimits, policy: configuration.sharedLimitFallback)
        }
        blockedUntil = Array(repeating: 0, count: Endpoint.allCases.count)
        readyLanes = Array(repeating: FIFO<Identity>(), count: Endpoint.allCases.count)
    }

    /// Track and identify requests waiting or in flight.
    var pendingEvents: Int { Int(stats.queueDepth + stats.inFlight) }
    /// Whether nothing at all is waiting or in flight.
    var isIdle: Bool { pendingEvents == 0 && lookupsPending == 0 }

    /// Queues a track or identify body for `identity`. (The bound on queued events is kept by
    /// the ``Intake`` the calls pass through first.)
    ///
    /// - Parameter linked: another identity whose later requests must wait for this one, e.g.
    ///   the email an identify sets: a track by that email needs the identify done first.
    mutating func enqueue(endpoint: Endpoint, identity: Identity, body: [UInt8], linked: Identity? = nil, now: UInt64) {
        stats.queued += 1
        add(Job(id: takeId(), endpoint: endpoint, lane: identity, body: body, visitorId: nil, enqueuedAt: now), linked: linked)
    }

    /// Queues a request loaded from the spool (accepted and counted as queued by whichever
    /// process wrote it). Rows must come in row order: lanes keep the order they are given.
    mutating func enqueue(spooled row: SpoolRow, now: UInt64) {
        var job = Job(
            id: takeId(), endpoint: row.endpoint, lane: row.identity, body: row.body, visitorId: nil, enqueuedAt: now)
        job.attempts = row.attempts
        job.spoolRow = row.id
        job.resend = row.attempts > 0
        add(job, linked: row.linked)
    }

    /// Seeds `endpoint`'s limiter with sends another sender made (monotonic times, oldest
    /// first), so this one keeps to the window they began.
    mutating func seedLimiter(_ endpoint: Endpoint, sentAt times: [UInt64]) {
        for time in times { limiters[endpoint.rawValue]?.record(now: time) }
    }

    /// Moves the limiter's record of `started` (just taken by ``takeStartable(now:)``) to
    /// `time`, when they leave later than they were taken.
    mutating func restamp(_ started: [Job], at time: UInt64) {
        for endpoint in Endpoint.allCases {
            let count = started.count { $0.endpoint == endpoint }
            if count > 0 { limiters[endpoint.rawValue]?.restampLast(count, at: time) }
        }
    }

    private mutating func add(_ job: Job, linked: Identity?) {
        let identity = job.lane!
        let endpoint = job.endpoint, now = job.enqueuedAt
        stats.queueDepth += 1
        append(job, to: identity)
        if let linked, linked != identity {
            var placeholder = Job(id: takeId(), endpoint: endpoint, lane: linked, body: [], visitorId: nil, enqueuedAt: now)
            placeholder.placeholderFor = job.id
            placeholderLanes[job.id] = linked
            append(placeholder, to: linked)
        }
    }

    /// When a track or identify request queued now could leave: `now` or a later time the
    /// limits allow, or nil while the in-flight cap is reached (only a completion changes that).
    /// Until then, new calls may wait in the intake.
    mutating func newRequestsStart(now: UInt64) -> UInt64? {
        guard inFlight.count < maxInFlight else { return nil }
        return min(startsAt(.identify, now: now), startsAt(.track, now: now))
    }

    /// Appends `job` to its lane, in place (a copy of the lane would make each call O(lane)).
    private mutating func append(_ job: Job, to identity: Identity) {
        let wasEmpty = lanes[identity, default: FIFO()].pushReportingEmpty(job)
        if wasEmpty, job.placeholderFor == nil { readyLanes[job.endpoint.rawValue].push(identity) }
    }

    /// Queues a user-id lookup. False when too many are pending (as many as queued events may be).
    mutating func enqueueLookup(visitorId: String, now: UInt64) -> Bool {
        guard lookupsPending < lookupCapacity else { return false }
        lookupsPending += 1
        readyLookups.push(
            Job(id: takeId(), endpoint: .userId, lane: nil, body: [], visitorId: visitorId, enqueuedAt: now))
        return true
    }

    /// The requests to start now, within the in-flight cap, the limits and any backoff.
    mutating func takeStartable(now: UInt64) -> [Job] {
        while let waiting = backoff.popDue(now: now) {
            switch waiting {
            case .lane(let identity):
                if let head = lanes[identity]?.first { readyLanes[head.endpoint.rawValue].push(identity) }
            case .lookup(let job):
                readyLookups.push(job)
            }
        }
        var started: [Job] = []
        for endpoint in Self.priority {
            while inFlight.count < maxInFlight, hasReady(endpoint), mayStart(endpoint, now: now) {
                var job: Job
                if endpoint == .userId {
                    job = readyLookups.pop()!
                } else {
                    let identity = readyLanes[endpoint.rawValue].pop()!
                    job = lanes[identity]!.first!
                    stats.queueDepth -= 1
                    stats.inFlight += 1
                }
                limiters[endpoint.rawValue]?.record(now: now)
                if shared?.take(endpoint, now: now) == true { stats.sharedPermits += 1 }
                job.attempts += 1
                if job.resend {
                    job.resend = false
                    stats.resent += 1
                } else if job.attempts > 1, job.endpoint != .userId {
                    stats.retried += 1
                }
                inFlight[job.id] = job
                started.append(job)
            }
        }
        return started
    }

    /// The spool rows of the next requests to `endpoints` to start, at most twice
    /// `maxInFlight`, in the order ``takeStartable(now:)`` would take them (limits aside). A
    /// completion, a retry coming due or another endpoint's request may change that order.
    func upcomingSpoolRows(of endpoints: [Endpoint]) -> [Int64] {
        var rows: [Int64] = []
        for endpoint in Self.priority where endpoints.contains(endpoint) {
            let ready = readyLanes[endpoint.rawValue]
            for offset in 0..<ready.count {
                guard rows.count < 2 * maxInFlight else { return rows }
                if let row = lanes[ready[offset: offset]]?.first?.spoolRow { rows.append(row) }
            }
        }
        return rows
    }

    /// The earliest monotonic time something may become startable without a completion, or
    /// nil when only a completion (or a new request) can change anything.
    mutating func nextWakeup(now: UInt64) -> UInt64? {
        var next = backoff.nextDue
        if inFlight.count < maxInFlight {
            for endpoint in Endpoint.allCases where hasReady(endpoint) {
                let at = max(startsAt(endpoint, now: now), shared?.availableAt(endpoint, now: now) ?? now)
                next = min(next ?? at, at)
            }
        }
        return next
    }

    /// Records how request `id` ended and decides what follows: done, or a retry later.
    mutating func complete(
        id: UInt64, response: TransportResponse, now: UInt64, nowUnixMilliseconds: Int64,
        using rng: inout some RandomNumberGenerator
    ) -> Completion {
        guard var job = inFlight.removeValue(forKey: id) else { return Completion() }
        let classification = ResponseClass(status: response.status)
        var completion = Completion()
        completion.unauthorized = response.status == 401

        let serverDelay = RateLimitHeaders.retryAfter(response.retryAfter, nowUnixMilliseconds: nowUnixMilliseconds)
        if response.status == 429 {
            stats.throttled += 1
            shared?.throttled(job.endpoint, now: now)
        }
        if let exhausted = RateLimitHeaders.exhaustedFor(
            remaining: response.rateLimitRemaining, reset: response.rateLimitReset,
            nowUnixMilliseconds: nowUnixMilliseconds), !localWindowKnows(job.endpoint, serverFreesIn: exhausted, now: now)
        {
            // Only this host waits: with a shared limit the permits already keep every host
            // to the count (over a longer window than the server's), so spreading this pause
            // would cost a Redis round trip and hold every host back to the server's coarser
            // reset for nothing. A 429 or Retry-After, below, is spread.
            block(job.endpoint, until: now &+ exhausted)
        }
        // The server asked the whole endpoint to wait, whether or not this request retries.
        if let serverDelay, response.status == 429 || response.status == 503 {
            block(job.endpoint, until: now &+ serverDelay)
            completion.pause = (job.endpoint, serverDelay)
        }
        if classification == .retriable, retry.allowsRetry(attempts: job.attempts, enqueuedAt: job.enqueuedAt, now: now) {
            let delay = retry.delay(attempts: job.attempts, serverDelay: serverDelay, using: &rng)
            completion.retryIn = delay
            if let lane = job.lane {
                stats.inFlight -= 1
                stats.queueDepth += 1
                lanes[lane]?.replaceFirst(with: job)
                backoff.insert(.lane(lane), due: now &+ delay)
            } else {
                backoff.insert(.lookup(job), due: now &+ delay)
            }
            return completion
        }

        job.attempts = max(job.attempts, 1)
        guard let lane = job.lane else {
            lookupsPending -= 1
            completion.lookup = (job.visitorId ?? "", response, classification)
            return completion
        }
        stats.inFlight -= 1
        let outcome: DeliveryOutcome
        switch classification {
        case .success: outcome = .delivered; stats.delivered += 1
        case .rejected: outcome = .rejected; stats.rejected += 1
        case .retriable: outcome = .gaveUp; stats.gaveUp += 1
        }
        completion.delivery = Delivery(
            endpoint: job.endpoint, outcome: outcome, status: response.status, attempts: job.attempts,
            body: job.body, message: outcome == .delivered ? nil : Self.describe(response))
        completion.spoolRow = job.spoolRow
        advance(lane)
        if let linked = placeholderLanes.removeValue(forKey: job.id) {
            if lanes[linked]?.first?.placeholderFor == job.id {
                advance(linked)
            } else {
                finishedWithPlaceholder.insert(job.id)
            }
        }
        return completion
    }

    /// Removes every request, waiting or in flight, counting them as dropped; returns the
    /// track and identify ones as deliveries and the visitor ids of abandoned lookups.
    /// Spooled requests are not dropped: their rows stay for the next sender.
    mutating func dropAll() -> (deliveries: [Delivery], lookups: [String]) {
        var deliveries: [Delivery] = []
        var lookups: [String] = []
        func drop(_ job: Job) {
            if job.spoolRow != nil { return }
            if let visitorId = job.visitorId {
                lookups.append(visitorId)
            } else {
                stats.dropped += 1
                deliveries.append(
                    Delivery(endpoint: job.endpoint, outcome: .dropped, status: 0, attempts: job.attempts,
                             body: job.body, message: "dropped at shutdown"))
            }
        }
        for job in inFlight.values where job.lane == nil { drop(job) }
        // A lane's head in flight is newer in `inFlight` (its attempts count the one under way).
        for lane in lanes.values {
            for job in lane.drainCopy() where job.placeholderFor == nil { drop(inFlight[job.id] ?? job) }
        }
        placeholderLanes = [:]
        finishedWithPlaceholder = []
        for case .lookup(let job) in backoff.drain() { drop(job) }
        for job in readyLookups.drain() { drop(job) }
        lanes = [:]
        inFlight = [:]
        readyLanes = readyLanes.map { _ in FIFO() }
        lookupsPending = 0
        stats.inFlight = 0
        stats.queueDepth = 0
        return (deliveries, lookups)
    }

    // MARK: Shared limit

    /// Per endpoint, how many more shared permits could be used soon: requests ready to leave
    /// that the local limits let go, at most `maxInFlight` (those beyond the free slots leave
    /// as requests in flight end), beyond the permits held. Counting only the free slots would
    /// lease one permit per round trip whenever the server answers fast. All zero without a
    /// shared limit or while it falls back.
    mutating func sharedDemand(now: UInt64) -> [Int] {
        Endpoint.allCases.map { endpoint in
            guard shared != nil, startsAt(endpoint, now: now) <= now else { return 0 }
            let ready = endpoint == .userId ? readyLookups.count : readyLanes[endpoint.rawValue].count
            return shared!.demand(endpoint, ready: min(ready, maxInFlight), now: now)
        }
    }

    /// Redis granted `count` permits for `endpoint`, usable until `expiresAt`.
    mutating func grantShared(_ endpoint: Endpoint, count: Int, expiresAt: UInt64) {
        shared?.grant(endpoint, count: count, expiresAt: expiresAt)
    }

    /// Another host of the key was told to wait: `endpoint` sends nothing before `until`.
    mutating func pauseShared(_ endpoint: Endpoint, until: UInt64) { block(endpoint, until: until) }

    /// Redis is away: keep to the fallback limit sized for `senders`.
    mutating func sharedFallBack(senders: Int, now: UInt64) { shared?.fallBack(senders: senders, now: now) }

    /// Redis is back; returns per endpoint the ages (ns) of the requests sent under the
    /// fallback in its last window.
    mutating func sharedResume(now: UInt64) -> [[UInt64]] {
        shared?.resume(now: now) ?? Endpoint.allCases.map { _ in [] }
    }

    private mutating func takeId() -> UInt64 {
        defer { nextId += 1 }
        return nextId
    }

    private func hasReady(_ endpoint: Endpoint) -> Bool {
        endpoint == .userId ? !readyLookups.isEmpty : !readyLanes[endpoint.rawValue].isEmpty
    }

    private mutating func mayStart(_ endpoint: Endpoint, now: UInt64) -> Bool {
        startsAt(endpoint, now: now) <= now && (shared?.availableAt(endpoint, now: now) ?? now) <= now
    }

    /// The earliest time a request to `endpoint` may leave: `now`, or later while the server
    /// asked it to wait or its limit is reached.
    private mutating func startsAt(_ endpoint: Endpoint, now: UInt64) -> UInt64 {
        max(now, blockedUntil[endpoint.rawValue], limiters[endpoint.rawValue]?.nextAllowed(now: now) ?? now)
    }

    /// Whether this client's own window already holds `endpoint` back until the server's next
    /// slot frees, `serverFreesIn` ns from now by `X-RateLimit-Reset`. That header is the time
    /// rounded up to a whole second: a full local window whose next slot frees within that last
    /// second saw the same sends and knows the time exactly, so waiting for the header would
    /// only add up to a second per window. Not so when the window is not full (the server
    /// counts other clients of the key), with a shared limit (other hosts), or when the times
    /// differ by more (a clock apart): then the header holds.
    private mutating func localWindowKnows(_ endpoint: Endpoint, serverFreesIn: UInt64, now: UInt64) -> Bool {
        guard shared == nil, let next = limiters[endpoint.rawValue]?.nextAllowed(now: now), next > now else { return false }
        return next &+ 1_000_000_000 >= now &+ serverFreesIn
    }

    private mutating func block(_ endpoint: Endpoint, until: UInt64) {
        blockedUntil[endpoint.rawValue] = max(blockedUntil[endpoint.rawValue], until)
    }

    /// The lane's head has its outcome: the next request of that identity may go, unless it is
    /// a placeholder still waiting for its job (finished placeholders are skipped).
    private mutating func advance(_ identity: Identity) {
        // One hash lookup: the lane is changed in place through its index.
        guard let lane = lanes.index(forKey: identity) else { return }
        _ = lanes.values[lane].pop()
        while let head = lanes.values[lane].first, let awaited = head.placeholderFor,
            finishedWithPlaceholder.remove(awaited) != nil
        {
            _ = lanes.values[lane].pop()
        }
        if let next = lanes.values[lane].first {
            if next.placeholderFor == nil { readyLanes[next.endpoint.rawValue].push(identity) }
        } else {
            lanes.remove(at: lane)
        }
    }

    private static func describe(_ response: TransportResponse) -> String {
        if let error = response.error { return error }
        let text = String(decoding: response.body.prefix(512), as: UTF8.self)
        return "HTTP \(response.status): \(text)"
    }
}

extension FIFO {
    /// Every element, oldest first, leaving the queue as it is.
    func drainCopy() -> [Element] {
        var copy = self
        return copy.drain()
    }
}
