import HimetricaRules

/// The engine's shared-limit glue: where the limiter's thread hands its permits, pauses and
/// fallbacks to the scheduler. (The limiter itself is ``SharedLimiter``.)
extension Engine: PermitSink {
    func sharedPermitsGranted(_ endpoint: Endpoint, count: Int, expiresAt: UInt64) {
        locked.withLock { state in
            state.scheduler.grantShared(endpoint, count: count, expiresAt: expiresAt)
            state.sharedLimiter?.demandMet(endpoint)
        }
        transport.wakeup()
    }

    func sharedPause(_ endpoint: Endpoint, until: UInt64) {
        locked.withLock { $0.scheduler.pauseShared(endpoint, until: until) }
    }

    func sharedLimitDown(senders: Int) {
        locked.withLock { $0.scheduler.sharedFallBack(senders: senders, now: clock.monotonicNanoseconds()) }
        transport.wakeup()
    }

    func sharedLimitUp() -> [[UInt64]] {
        locked.withLock { $0.scheduler.sharedResume(now: clock.monotonicNanoseconds()) }
    }
}
