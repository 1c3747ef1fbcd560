#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time as the engine sees it. Injected so tests can drive time by hand.
package protocol EngineClock: Sendable {
    /// Monotonic time in nanoseconds, for deadlines, windows and backoff.
    func monotonicNanoseconds() -> UInt64
    /// Wall-clock Unix time in milliseconds, for event timestamps and HTTP dates.
    func unixMilliseconds() -> Int64
}

/// The system's clocks.
package struct Clock: EngineClock {
    package init() {}

    package func monotonicNanoseconds() -> UInt64 { Self.monotonicNanoseconds() }

    package func unixMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// `CLOCK_MONOTONIC` in nanoseconds.
    package static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Nanoseconds in a second, for readable conversions.
let nanosecondsPerSecond: UInt64 = 1_000_000_000

extension Double {
    /// Seconds as nanoseconds, clamped at zero and at about 292 years.
    var nanoseconds: UInt64 {
        guard self > 0 else { return 0 }
        return self >= 9.2e9 ? UInt64(Int64.max) : UInt64(self * 1e9)
    }
}

extension Duration {
    /// The duration in seconds, for libcurl and the C surface.
    package var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// The duration in nanoseconds, as the engine counts time: clamped at zero and at about
    /// 292 years.
    package var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: nanosecondsPerSecond)
        guard !overflow, whole <= UInt64(Int64.max) else { return UInt64(Int64.max) }
        return UInt64(Int64(whole) + attoseconds / 1_000_000_000)
    }
}
