#if DevServer  // a package trait (Package.swift)
/// Everything a running dev server holds: configuration, state, limiter and fault injector.
/// Shared by all requests; each part guards itself with a mutex held only briefly.
final class DevServer: Sendable {
    let options: DevServerOptions
    let keys: Set<String>
    let clock: ServerClock
    let store: Store
    let limiter: RateLimiter
    let faults: FaultInjector

    init(options: DevServerOptions, directory: Directory = Directory()) {
        self.options = options
        keys = Set(options.keys)
        clock = ServerClock()
        store = Store(options: options, clock: clock, directory: directory)
        limiter = RateLimiter(limits: options.limits, clock: clock)
        faults = FaultInjector(settings: options.faults, clock: clock)
    }
}
#endif
