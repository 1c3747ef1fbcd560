import Foundation
import Himetrica
import HimetricaCore
import HimetricaRules

extension Dictionary where Key == String, Value == Any {
    /// The request body the server received.
    var body: [String: Any] { self["body"] as? [String: Any] ?? [:] }
    /// A property of the received event.
    func property(_ name: String) -> Any? { (body["properties"] as? [String: Any])?[name] }
}

/// Collects deliveries reported by the callback.
final class Deliveries: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Delivery] = []

    var all: [Delivery] { lock.withLock { items } }
    func append(_ delivery: Delivery) { lock.withLock { items.append(delivery) } }
}

