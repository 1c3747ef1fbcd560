import HimetricaRules

/// Requests and their outcomes: the request a job sends, what an answer changes (scheduler,
/// spool, shared limit, user-id cache and waiters), and the reports (log lines and the
/// delivery callback).
extension Engine {
    /// The HTTP request `job` sends.
    func request(for job: Job) -> OutgoingRequest {
        if let visitorId = job.visitorId {
            return OutgoingRequest(id: job.id, url: baseURL.userIdURL(visitorId: visitorId), body: nil)
        }
        return OutgoingRequest(id: job.id, url: endpointURLs[job.endpoint.rawValue], body: job.body)
    }

    /// Applies one answer; returns what to run once the lock is released.
    func handle(id: UInt64, response: TransportResponse, in state: inout State) -> (() -> Void)? {
        let now = clock.monotonicNanoseconds()
        let completion = state.scheduler.complete(
            id: id, response: response, now: now, nowUnixMilliseconds: clock.unixMilliseconds(), using: &state.rng)
        if let row = completion.spoolRow {
            spool?.finished(row)
        } else if completion.delivery != nil {
            finished(1)
        }
        if let pause = completion.pause {
            state.sharedLimiter?.publishPause(pause.endpoint, milliseconds: Int(pause.nanoseconds / 1_000_000))
        }
        var log: () -> Void = {}
        if completion.unauthorized, !state.reportedUnauthorized {
            state.reportedUnauthorized = true
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
            case .success(let userId): state.cache.store(lookup.visitorId, userId: userId)
            case .failure(.notFound): state.cache.storeNotFound(lookup.visitorId, now: now)
            default: break
            }
            let waiters = state.lookupWaiters.removeValue(forKey: lookup.visitorId) ?? []
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

    /// `count` events have their final outcome: room for as many new calls.
    func finished(_ count: Int) {
        intake.finished(count)
    }

    /// Hands outcomes to the log and the delivery callback, on the calling thread.
    /// Dropped requests are not logged here: ``dropEverything(in:)`` logs one line for all.
    func report(_ deliveries: [Delivery]) {
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
}
