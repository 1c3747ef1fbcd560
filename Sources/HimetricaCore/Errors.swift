import HimetricaRules

/// Why a client call failed. Each case maps to one C status code.
public enum HimetricaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input broke a rule of the API; nothing was queued.
    case invalid(ValidationError)
    /// The queue is full (``Configuration/queueCapacity``); the call was counted as dropped.
    case queueFull
    /// The client was shut down; it accepts no more calls.
    case shutDown
    /// The deadline passed before an answer.
    case timeout
    /// The server does not know the visitor (404).
    case notFound
    /// The server refused the secret key (401).
    case unauthorized
    /// The server refused the request with this status and message.
    case rejected(status: Int, message: String)
    /// No answer could be had within the retry budget.
    case unavailable(String)
    /// The system refused the library a resource it needs (such as starting its flush thread);
    /// nothing was queued.
    case system(String)

    /// What went wrong, in words (for an invalid input: the field and the rule).
    public var description: String {
        switch self {
        case .invalid(let error): error.message
        case .queueFull: "the queue is full (queue_capacity); the call was dropped"
        case .shutDown: "the client has been shut down"
        case .timeout: "timed out"
        case .notFound: "visitor not found"
        case .unauthorized: "the secret key was refused (401)"
        case .rejected(let status, let message): "rejected with HTTP \(status): \(message)"
        case .unavailable(let message): "the server could not be reached: \(message)"
        case .system(let message): message
        }
    }
}

/// What a flush or shutdown left undone when it returned.
public struct FlushResult: Sendable, Hashable {
    /// Track and identify requests still waiting or in flight (after a shutdown: dropped).
    public let pending: Int
    /// Whether everything was delivered (or finished) before the deadline.
    public var completed: Bool { pending == 0 }

    /// A result with `pending` requests left.
    public init(pending: Int) { self.pending = pending }
}
