import HimetricaCore
import HimetricaRules

#if canImport(Glibc)
import Glibc
#endif

/// What a call returned. HM_OK is zero; every other value has a message from
/// hm_last_error() on the same thread.
@c public enum hm_status: Int32 {
    /// Success.
    case HM_OK = 0
    /// An argument broke a rule (NULL, invalid UTF-8, a validation rule); nothing was queued.
    case HM_ERR_INVALID_ARGUMENT = 1
    /// The queue is full; the call was dropped (and counted).
    case HM_ERR_QUEUE_FULL = 2
    /// The client was shut down.
    case HM_ERR_SHUT_DOWN = 3
    /// The deadline passed first.
    case HM_ERR_TIMEOUT = 4
    /// The server does not know the visitor (404).
    case HM_ERR_NOT_FOUND = 5
    /// The server refused the secret key (401).
    case HM_ERR_UNAUTHORIZED = 6
    /// The server refused the request (another 4xx).
    case HM_ERR_REJECTED = 7
    /// The server could not be reached within the retry budget.
    case HM_ERR_UNAVAILABLE = 8
}

/// How a request ended, as given to a delivery callback.
@c public enum hm_outcome: Int32 {
    /// The server answered 2xx.
    case HM_DELIVERED = 0
    /// The server refused it (400, 401, 403, 404, ...); it was not retried.
    case HM_REJECTED = 1
    /// Retries ran out of attempts or time.
    case HM_GAVE_UP = 2
    /// Abandoned at shutdown before it could be delivered.
    case HM_DROPPED = 3
}

/// A client counter, read with hm_stats_get().
@c public enum hm_stat: Int32 {
    /// Track and identify calls accepted by validation.
    case HM_STAT_QUEUED = 0
    /// Requests the server accepted (2xx).
    case HM_STAT_DELIVERED = 1
    /// Requests the server refused; never retried.
    case HM_STAT_REJECTED = 2
    /// Retry attempts made.
    case HM_STAT_RETRIED = 3
    /// Requests whose retry budget ran out.
    case HM_STAT_GAVE_UP = 4
    /// Requests refused because the queue was full, or abandoned at shutdown.
    case HM_STAT_DROPPED = 5
    /// 429 answers seen.
    case HM_STAT_THROTTLED = 6
    /// Requests being sent now.
    case HM_STAT_IN_FLIGHT = 7
    /// Requests waiting to be sent.
    case HM_STAT_QUEUE_DEPTH = 8
    /// With a spool: calls this process committed to it.
    case HM_STAT_SPOOLED = 9
    /// With a spool: bytes its files take on disk.
    case HM_STAT_SPOOL_BYTES = 10
    /// With a spool: requests sent again after an earlier sender died having started them.
    case HM_STAT_RESENT = 11
    /// With a spool: 1 while this process is the spool's sender.
    case HM_STAT_SENDER = 12
    /// With a spool: times it failed at run time and the client fell back to memory.
    case HM_STAT_SPOOL_ERRORS = 13
}

extension hm_status {
    init(_ error: HimetricaError) {
        switch error {
        case .invalid: self = .HM_ERR_INVALID_ARGUMENT
        case .queueFull: self = .HM_ERR_QUEUE_FULL
        case .shutDown: self = .HM_ERR_SHUT_DOWN
        case .timeout: self = .HM_ERR_TIMEOUT
        case .notFound: self = .HM_ERR_NOT_FOUND
        case .unauthorized: self = .HM_ERR_UNAUTHORIZED
        case .rejected: self = .HM_ERR_REJECTED
        case .unavailable: self = .HM_ERR_UNAVAILABLE
        }
    }
}

/// The library's version, e.g. "0.1.0". A static string; do not free it.
@c public func hm_version() -> UnsafePointer<CChar> {
    StaticStrings.version
}

/// A short description of `status`. A static string; do not free it.
@c public func hm_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    StaticStrings.statusNames[Int(status)] ?? StaticStrings.unknown
}

/// The name of counter `stat` (e.g. "queued"), or NULL past the last counter, so callers can
/// list them all. A static string; do not free it.
@c public func hm_stat_name(_ stat: Int32) -> UnsafePointer<CChar>? {
    stat >= 0 && Int(stat) < StaticStrings.statNames.count ? StaticStrings.statNames[Int(stat)] : nil
}

/// The name of an outcome ("delivered", "rejected", "gave_up", "dropped"). A static string.
@c public func hm_outcome_name(_ outcome: Int32) -> UnsafePointer<CChar> {
    outcome >= 0 && Int(outcome) < StaticStrings.outcomeNames.count
        ? StaticStrings.outcomeNames[Int(outcome)] : StaticStrings.unknown
}

/// C strings that live as long as the process.
enum StaticStrings {
    static func make(_ text: String) -> UnsafePointer<CChar> { UnsafePointer(strdup(text)!) }

    nonisolated(unsafe) static let version = make(Version.string)
    nonisolated(unsafe) static let unknown = make("unknown")
    nonisolated(unsafe) static let statusNames: [Int: UnsafePointer<CChar>] = [
        0: make("ok"), 1: make("invalid argument"), 2: make("queue full"), 3: make("shut down"),
        4: make("timeout"), 5: make("not found"), 6: make("unauthorized"), 7: make("rejected"),
        8: make("unavailable"),
    ]
    nonisolated(unsafe) static let statNames = Stats().named.map { make($0.name) }
    nonisolated(unsafe) static let outcomeNames = ["delivered", "rejected", "gave_up", "dropped"].map(make)
    nonisolated(unsafe) static let endpointNames = Endpoint.allCases.map { make($0.name) }
}
