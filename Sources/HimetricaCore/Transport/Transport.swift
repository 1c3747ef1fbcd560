/// One HTTP request for the transport to send.
struct OutgoingRequest {
    /// The scheduler's id, returned with the response.
    let id: UInt64
    /// The full URL.
    let url: String
    /// The body to POST, or nil for a GET.
    let body: [UInt8]?
}

/// Sends requests concurrently and reports their answers. Only the flush thread calls it,
/// except ``wakeup()``, which any thread may call.
protocol Transport: AnyObject {
    /// Starts sending `request`; its answer comes back from a later ``poll(timeoutMilliseconds:)``.
    func start(_ request: OutgoingRequest)
    /// Waits up to `timeoutMilliseconds` for answers (or a ``wakeup()``) and returns those that
    /// arrived.
    func poll(timeoutMilliseconds: Int32) -> [(id: UInt64, response: TransportResponse)]
    /// Makes a waiting ``poll(timeoutMilliseconds:)`` return early. Thread-safe.
    func wakeup()
    /// Stops every request in flight; no answers are reported for them.
    func cancelAll()
    /// In a child process after `fork()`: forget the parent's connections without touching
    /// them (closing them could disturb the parent's use of the same sockets).
    func abandonAfterFork()
}
