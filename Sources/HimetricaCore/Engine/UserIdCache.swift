/// Remembers visitor → user id answers (stable, so kept until evicted) and "not found"
/// answers (briefly), bounded in size.
struct UserIdCache {
    private let capacity: Int
    private let notFoundTTL: UInt64
    private var found: [String: String] = [:]
    private var order = FIFO<String>()
    private var notFound: [String: UInt64] = [:]

    init(capacity: Int, notFoundTTL: UInt64) {
        self.capacity = capacity
        self.notFoundTTL = notFoundTTL
    }

    enum Entry: Equatable {
        case userId(String)
        case notFound
    }

    /// The remembered answer for `visitorId` at `now`, if any.
    mutating func lookup(_ visitorId: String, now: UInt64) -> Entry? {
        if let userId = found[visitorId] { return .userId(userId) }
        if let expiry = notFound[visitorId] {
            if now < expiry { return .notFound }
            notFound[visitorId] = nil
        }
        return nil
    }

    mutating func store(_ visitorId: String, userId: String) {
        guard capacity > 0 else { return }
        notFound[visitorId] = nil
        if found.updateValue(userId, forKey: visitorId) == nil {
            order.push(visitorId)
            if found.count > capacity, let oldest = order.pop() { found[oldest] = nil }
        }
    }

    mutating func storeNotFound(_ visitorId: String, now: UInt64) {
        guard capacity > 0, notFoundTTL > 0 else { return }
        if notFound.count >= capacity { notFound = notFound.filter { $0.value > now } }
        if notFound.count < capacity { notFound[visitorId] = now &+ notFoundTTL }
    }
}
