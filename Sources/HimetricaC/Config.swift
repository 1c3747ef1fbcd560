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

/// The level of a log line given to a log callback (hm_config_set_log_callback()).
@c public enum hm_log_level: Int32 {
    /// Each step of each request.
    case HM_LOG_TRACE = 0
    /// Details useful when looking into a problem.
    case HM_LOG_DEBUG = 1
    /// Normal events worth knowing (start, stop).
    case HM_LOG_INFO = 2
    /// Normal but significant events.
    case HM_LOG_NOTICE = 3
    /// Something is wrong but the library goes on (queue full, retries running out).
    case HM_LOG_WARNING = 4
    /// An operation failed (a request rejected, the flush thread could not start).
    case HM_LOG_ERROR = 5
    /// The client cannot work (the secret key was refused).
    case HM_LOG_CRITICAL = 6
}

extension hm_log_level {
    /// The C level of a swift-log level.
    init(_ level: Logger.Level) {
        switch level {
        case .trace: self = .HM_LOG_TRACE
        case .debug: self = .HM_LOG_DEBUG
        case .info: self = .HM_LOG_INFO
        case .notice: self = .HM_LOG_NOTICE
        case .warning: self = .HM_LOG_WARNING
        case .error: self = .HM_LOG_ERROR
        case .critical: self = .HM_LOG_CRITICAL
        }
    }

    /// The swift-log level of a C minimum level; values past either end are clamped.
    static func loggerLevel(_ value: Int32) -> Logger.Level {
        switch value {
        case ...HM_LOG_TRACE.rawValue: .trace
        case HM_LOG_DEBUG.rawValue: .debug
        case HM_LOG_INFO.rawValue: .info
        case HM_LOG_NOTICE.rawValue: .notice
        case HM_LOG_WARNING.rawValue: .warning
        case HM_LOG_ERROR.rawValue: .error
        default: .critical
        }
    }
}

/// A C function called with each request's final outcome, and its user data.
struct DeliveryCallback: @unchecked Sendable {
    let function: hm_delivery_callback
    let userData: UnsafeMutableRawPointer?
}

/// A C function receiving the library's log lines, and its user data.
struct LogCallback: @unchecked Sendable {
    let function: hm_log_callback
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
        let value = try CString.required(value, field: Configuration.shown(name))
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
    _ callback: hm_delivery_callback?,
    _ user_data: UnsafeMutableRawPointer?
) -> hm_status {
    guard let box = ConfigBox.from(config) else {
        return LastError.fail(ValidationError(field: "config", rule: "must not be NULL"))
    }
    box.deliveryCallback = callback.map { DeliveryCallback(function: $0, userData: user_data) }
    return LastError.ok()
}

/// Sends the library's log lines at `min_level` (an hm_log_level value, e.g. HM_LOG_WARNING)
/// or above to `callback` instead of standard error; the callback's first argument is the
/// line's hm_log_level. It runs on the thread that logs (mostly the flush thread). The message
/// is valid only during the call; it never contains the secret key. NULL restores the default
/// (HM_LOG_WARNING and above to standard error).
@c public func hm_config_set_log_callback(
    _ config: UnsafeMutablePointer<hm_config>?,
    _ callback: hm_log_callback?,
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
    let callouts: Callouts
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level

    init(callback: LogCallback?, callouts: Callouts) {
        self.callback = callback
        self.callouts = callouts
        logLevel = callback.map { hm_log_level.loggerLevel($0.minimumLevel) } ?? .warning
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = hm_log_level(event.level).rawValue
        // C has no metadata: it follows the message as `key=value` pairs.
        let pairs = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }
        let text = ([" \(event.message)"] + pairs.map { "\($0.key)=\($0.value)" }).joined(separator: " ").dropFirst()
        if let callback {
            String(text).withCString { text in callouts.call { callback.function(level, text, callback.userData) } }
        } else {
            let line = "himetrica \(event.level): \(text)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }
}
