import HimetricaCore
import HimetricaRules

#if canImport(Glibc)
import Glibc
#endif

/// The message of the last failed call on the calling thread, or NULL when the last call
/// succeeded. Valid until the next hm_* call on the same thread; do not free it.
@c public func hm_last_error() -> UnsafePointer<CChar>? {
    LastError.current
}

/// The per-thread message behind hm_last_error().
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    static var current: UnsafePointer<CChar>? {
        pthread_getspecific(key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
    }

    static func set(_ message: String?) {
        free(pthread_getspecific(key))
        pthread_setspecific(key, message.map { UnsafeMutableRawPointer(strdup($0)!) })
    }

    /// Records `error` and returns its status.
    static func fail(_ error: HimetricaError) -> hm_status {
        set(error.description)
        return hm_status(error)
    }

    /// Records a broken rule and returns HM_ERR_INVALID_ARGUMENT.
    static func fail(_ error: ValidationError) -> hm_status {
        fail(.invalid(error))
    }

    /// Clears the message and returns HM_OK.
    static func ok() -> hm_status {
        if pthread_getspecific(key) != nil { set(nil) }
        return .HM_OK
    }
}

/// Reading C strings: NULL and invalid UTF-8 become errors naming the argument.
enum CString {
    /// The string at `pointer`, or nil for NULL.
    static func optional(_ pointer: UnsafePointer<CChar>?, field: String) throws(ValidationError) -> String? {
        try utf8(pointer, field: field).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes at `pointer` (not copied), checked to be valid UTF-8, or nil for NULL.
    static func utf8(_ pointer: UnsafePointer<CChar>?, field: String) throws(ValidationError) -> UnsafeBufferPointer<UInt8>? {
        guard let bytes = bytes(pointer) else { return nil }
        // ASCII (the usual case) is valid UTF-8: skip the generic validation.
        if bytes.contains(where: { $0 >= 0x80 }), String(validating: bytes, as: UTF8.self) == nil {
            throw ValidationError(field: field, rule: "must be valid UTF-8")
        }
        return bytes
    }

    /// The string at `pointer`; NULL is an error.
    static func required(_ pointer: UnsafePointer<CChar>?, field: String) throws(ValidationError) -> String {
        guard let value = try optional(pointer, field: field) else {
            throw ValidationError(field: field, rule: "must not be NULL")
        }
        return value
    }

    /// The bytes at `pointer` (not copied; valid while the caller's string is), or nil.
    static func bytes(_ pointer: UnsafePointer<CChar>?) -> UnsafeBufferPointer<UInt8>? {
        pointer.map {
            UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))
        }
    }
}
