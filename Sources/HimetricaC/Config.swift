import HimetricaCTypes
import HimetricaCore
import HimetricaRules
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The Swift object behind an hm_config handle.
final class ConfigBox {
    var configuration = Configuration()
    var deliveryCallback: DeliveryCallback?
    var logCallback: LogCallback?

    init() { configuration.surface = "c" }

    static func from(_ handle: UnsafeMutablePointer<hm_config>?) -> ConfigBox? {
        handle.map { Unmanaged<ConfigBox>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }
}

/// A C function called with each request's final outcome, and its user data.
struct DeliveryCallback: @unchecked Sendable {
    let function: @convention(c) (UnsafePointer<hm_delivery>?, UnsafeMutableRawPointer?) -> Void
    let userData: UnsafeMutableRawPointer?
}

/// A C function receiving the library's log lines, and its user data.
struct LogCallback: @unchecked Sendable {
    let function: @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void
    let minimumLevel: Int32
    let userData: UnsafeMutableRawPointer?
}

/// A new set of options with every default (see the README's configuration table). Free it
/// with hm_config_free(); a client copies what it needs, so it may be freed right after
/// hm_client_new().
@c public func hm_config_new() -> UnsafeMutablePointer<hm_config> {
    Unmanaged.passRetained(ConfigBox()).toOpaque().assumingMemoryBound(to: hm_config.self)
}

/// Frees options made by hm_config_new(). NULL is ignored.
@c public func hm_config_free(_ config: UnsafeMutablePointer<hm_config>?) {
    guard let config else { return }
    Unmanaged<ConfigBox>.fromOpaque(UnsafeRawPointer(config)).release()
}

/// Sets option `name` (snake_case, e.g. "endpoint", "max_in_flight", "rate_limit_track") from
/// text (e.g. "https://...", "8", "1000/60" or "none"). An unknown name or a bad value returns
/// HM_ERR_INVALID_ARGUMENT with the option named in hm_last_error(), and changes nothing.
@c public func hm_config_set(
    _ config: UnsafeMutablePointer<hm_config>?, _ name: UnsafePointer<CChar>?, _ value: UnsafePointer<CChar>?
) -> hm_status {
    do throws(ValidationError) {
        guard let box = ConfigBox.from(config) else { throw ValidationError(field: "config", rule: "must not be NULL") }
        let name = try CString.required(name, field: "name")
        let value = try CString.required(value, field: name)
        var copy = box.configuration
        try copy.set(option: name, value: value)
        box.configuration = copy
        return LastError.ok()
    } catch {
        return LastError.fail(error)
    }
}

/// Sets a function called on the flush thread with each track and identify request's final
/// outcome (delivered, rejected, gave up, dropped), and the pointer passed to it. The
/// hm_delivery and its strings are valid only during the call. Keep it short; it must not
/// call hm_shutdown() or hm_client_free() on the same client. NULL removes it.
@c public func hm_config_set_delivery_callback(
    _ config: UnsafeMutablePointer<hm_config>?,
    _ callback: (@convention(c) (UnsafePointer<hm_delivery>?, UnsafeMutableRawPointer?) -> Void)?,
    _ user_data: UnsafeMutableRawPointer?
) -> hm_status {
    guard let box = ConfigBox.from(config) else {
        return LastError.fail(ValidationError(field: "config", rule: "must not be NULL"))
    }
    box.deliveryCallback = callback.map { DeliveryCallback(function: $0, userData: user_data) }
    return LastError.ok()
}

/// Sends the library's log lines at `min_level` or above (0 trace, 1 debug, 2 info, 3 notice,
/// 4 warning, 5 error, 6 critical) to `callback` instead of standard error. The message is
/// valid only during the call; it never contains the secret key. NULL restores the default
/// (warnings and above to standard error).
@c public func hm_config_set_log_callback(
    _ config: UnsafeMutablePointer<hm_config>?,
    _ callback: (@convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void)?,
    _ min_level: Int32,
    _ user_data: UnsafeMutableRawPointer?
) -> hm_status {
    guard let box = ConfigBox.from(config) else {
        return LastError.fail(ValidationError(field: "config", rule: "must not be NULL"))
    }
    box.logCallback = callback.map { LogCallback(function: $0, minimumLevel: min_level, userData: user_data) }
    return LastError.ok()
}

/// A swift-log handler that hands lines to a C callback, or writes warnings and above to
/// standard error when there is none.
struct CLogHandler: LogHandler {
    let callback: LogCallback?
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level

    init(callback: LogCallback?) {
        self.callback = callback
        logLevel = callback.map { Logger.Level.allCases[Int(max(0, min($0.minimumLevel, 6)))] } ?? .warning
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = Int32(Logger.Level.allCases.firstIndex(of: event.level) ?? 0)
        // A C callback takes one string: metadata (e.g. the spool's path) follows the message.
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }
        let text = fields.isEmpty ? "\(event.message)" : "\(event.message) (" + fields.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
        if let callback {
            text.withCString { callback.function(level, $0, callback.userData) }
        } else {
            let line = "himetrica \(event.level): \(text)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }
}
