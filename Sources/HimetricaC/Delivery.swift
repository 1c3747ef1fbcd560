import HimetricaCTypes
import HimetricaCore
import HimetricaRules

#if canImport(Glibc)
import Glibc
#endif

/// What an hm_delivery handle points at during a callback.
final class DeliveryView {
    let delivery: Delivery
    let body: UnsafeMutablePointer<CChar>
    let message: UnsafeMutablePointer<CChar>?

    init(_ delivery: Delivery) {
        self.delivery = delivery
        body = strdup(String(decoding: delivery.body, as: UTF8.self))!
        message = delivery.message.map { strdup($0)! }
    }

    deinit {
        free(body)
        free(message)
    }

    /// Calls the C callback with a view of `delivery` that lives for the call only.
    static func call(_ callback: DeliveryCallback, with delivery: Delivery, through callouts: Callouts) {
        let view = DeliveryView(delivery)
        withExtendedLifetime(view) {
            let handle = UnsafePointer(Unmanaged.passUnretained(view).toOpaque().assumingMemoryBound(to: hm_delivery.self))
            callouts.call { callback.function(handle, callback.userData) }
        }
    }

    static func from(_ handle: UnsafePointer<hm_delivery>?) -> DeliveryView? {
        handle.map { Unmanaged<DeliveryView>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }
}

/// The endpoint the request went to: "track" or "identify". Valid during the callback.
@c public func hm_delivery_endpoint(_ delivery: UnsafePointer<hm_delivery>?) -> UnsafePointer<CChar>? {
    DeliveryView.from(delivery).map { StaticStrings.endpointNames[$0.delivery.endpoint.rawValue] }
}

/// How the request ended (an hm_outcome value), or -1 for NULL.
@c public func hm_delivery_outcome(_ delivery: UnsafePointer<hm_delivery>?) -> Int32 {
    DeliveryView.from(delivery)?.delivery.outcome.rawValue ?? -1
}

/// The last HTTP status, or 0 when no answer came (or for NULL).
@c public func hm_delivery_status(_ delivery: UnsafePointer<hm_delivery>?) -> Int32 {
    Int32(DeliveryView.from(delivery)?.delivery.status ?? 0)
}

/// The number of attempts made (0 for NULL).
@c public func hm_delivery_attempts(_ delivery: UnsafePointer<hm_delivery>?) -> Int32 {
    Int32(DeliveryView.from(delivery)?.delivery.attempts ?? 0)
}

/// The request's JSON body. Valid during the callback.
@c public func hm_delivery_body(_ delivery: UnsafePointer<hm_delivery>?) -> UnsafePointer<CChar>? {
    DeliveryView.from(delivery).map { UnsafePointer($0.body) }
}

/// The server's error or the transport error when it was not delivered, else NULL. Valid
/// during the callback.
@c public func hm_delivery_message(_ delivery: UnsafePointer<hm_delivery>?) -> UnsafePointer<CChar>? {
    DeliveryView.from(delivery)?.message.map { UnsafePointer($0) }
}
