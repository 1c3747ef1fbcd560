#if DevServer  // a package trait (Package.swift)
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Monotonic time for windows and timeouts, plus the wall-clock (unix) equivalent for headers
/// and inspection timestamps.
struct ServerClock: Sendable {
    private let origin = ContinuousClock.now
    /// Unix seconds at `origin`.
    private let unixOrigin = Date().timeIntervalSince1970

    /// Monotonic seconds since the clock was made.
    func now() -> Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// Unix seconds of monotonic instant `monotonic`.
    func unix(_ monotonic: Double) -> Double {
        unixOrigin + monotonic
    }
}
#endif
