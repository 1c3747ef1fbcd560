import HimetricaRules

/// The message of the `ValidationError` that `body` throws, or nil when it does not throw.
/// (Closures are inferred as untyped `throws`, so any other error shows up as a mismatch.)
func message(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as ValidationError {
        return error.message
    } catch {
        return "not a ValidationError: \(error)"
    }
}

/// `JSONText.compactObject` over `text`'s bytes, as a C surface calls it.
func compact(_ text: String, field: String = "properties", stringMembers: [String] = []) throws(ValidationError) -> String {
    try compact(Array(text.utf8), field: field, stringMembers: stringMembers)
}

/// `JSONText.compactObject` over raw bytes, as a C surface calls it.
func compact(_ bytes: [UInt8], field: String = "properties", stringMembers: [String] = []) throws(ValidationError) -> String {
    let result = bytes.withUnsafeBufferPointer { buffer in
        Result { () throws(ValidationError) in
            try JSONText.compactObject(buffer, field: field, stringMembers: stringMembers)
        }
    }
    return String(decoding: try result.get(), as: UTF8.self)
}

func utf8(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
