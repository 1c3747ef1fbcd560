#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks JSON text received as bytes (from C, Python, Node or the CLI) and returns it compact.
///
/// The text must be one JSON object (RFC 8259) in valid UTF-8, with no duplicate keys in any
/// object, nesting at most ``Limits/maxNestingDepth`` levels, and at most
/// ``Limits/maxPropertiesBytes`` once whitespace outside strings is removed. Strings and numbers
/// are kept byte for byte.
package enum JSONText {
    /// Validates `text` as the object for `field` and returns its compact form.
    ///
    /// - Parameter stringMembers: top-level keys whose values, when present, must be strings.
    package static func compactObject(
        _ text: UnsafeBufferPointer<UInt8>, field: String, stringMembers: [String] = []
    ) throws(ValidationError) -> [UInt8] {
        var failure: ValidationError?
        let result = [UInt8](unsafeUninitializedCapacity: maxCompactBytes(text.count)) { buffer, count in
            do throws(ValidationError) {
                count = try compactObject(text, field: field, stringMembers: stringMembers, into: buffer.baseAddress!)
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// The most bytes ``compactObject(_:field:stringMembers:into:)`` writes for `textCount`
    /// bytes of input: the compact form is a subsequence of the input, and never over the limit.
    package static func maxCompactBytes(_ textCount: Int) -> Int { max(1, min(textCount, Limits.maxPropertiesBytes)) }

    /// Validates `text` as the object for `field`, writes its compact form at `out` (room for
    /// ``maxCompactBytes(_:)`` bytes) and returns how many bytes it wrote. Lets a caller build a
    /// request body around the object without a copy.
    package static func compactObject(
        _ text: UnsafeBufferPointer<UInt8>, field: String, stringMembers: [String] = [],
        into out: UnsafeMutablePointer<UInt8>
    ) throws(ValidationError) -> Int {
        // Key positions live on the stack unless an object (or nesting) has more than 16 keys.
        try withUnsafeTemporaryAllocation(of: Scanner.Key.self, capacity: 16) { (keys) throws(ValidationError) -> Int in
            var scanner = Scanner(input: text, output: out, keys: keys.baseAddress!, keyCapacity: keys.count)
            defer { scanner.releaseKeys() }
            return try scanner.compactObject(field: field, stringMembers: stringMembers)
        }
    }
}

extension JSONText.Scanner {
    mutating func compactObject(field: String, stringMembers: [String]) throws(ValidationError) -> Int {
        self.stringMembers = stringMembers
        do throws(ValidationError) {
            skipWhitespace()
            guard peek == UInt8(ascii: "{") else {
                if atEnd { throw ValidationError(field: "", rule: "must be a JSON object (got empty text)") }
                throw ValidationError(field: "", rule: "must be a JSON object")
            }
            try value(depth: 1)
            skipWhitespace()
            guard atEnd else { throw syntaxError("unexpected text after the object") }
        } catch {
            throw error.within(field)
        }
        return count
    }
}

extension JSONText {

    /// Validates `text` as the object for `field` and returns its compact form.
    package static func compactObject(
        _ text: String, field: String, stringMembers: [String] = []
    ) throws(ValidationError) -> [UInt8] {
        var copy = text
        let result = copy.withUTF8 { buffer in
            Result { () throws(ValidationError) in
                try compactObject(buffer, field: field, stringMembers: stringMembers)
            }
        }
        return try result.get()
    }

    /// A member name as error messages show it in a field path: control characters (C0, DEL,
    /// C1) escaped JSON-style (`\n`, `\u0000`) and at most 64 characters (then `…`). Keys come
    /// from the caller's data, so a message must not carry line breaks into a log line (log
    /// injection), cut a C string short at a NUL, or grow to the size of the properties.
    ///
    /// - Parameter escapingQuotes: also escape `"` and `\` (for names shown outside JSON,
    ///   such as an option name, where nothing else marks where the caller's text ends).
    package static func displayKey(_ key: String, escapingQuotes: Bool = false) -> String {
        var shown = ""
        var count = 0
        for scalar in key.unicodeScalars {
            if count == 64 {
                shown += "…"
                break
            }
            count += 1
            switch scalar.value {
            case 0x22 where escapingQuotes: shown += "\\\""
            case 0x5C where escapingQuotes: shown += "\\\\"
            case 0x0A: shown += "\\n"
            case 0x0D: shown += "\\r"
            case 0x09: shown += "\\t"
            case 0x00..<0x20, 0x7F..<0xA0:
                let hex = String(scalar.value, radix: 16)
                shown += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    /// The decoded value of top-level string member `key` in a compact object produced by
    /// ``compactObject(_:field:stringMembers:)`` or ``JSONWriter``; nil if absent or not a string.
    package static func topLevelString(_ key: String, in compact: [UInt8]) -> String? {
        var depth = 0
        var i = 0
        var expectKey = false
        while i < compact.count {
            let c = compact[i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectKey = depth == 1 && c == UInt8(ascii: "{")
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                i += 1
            case UInt8(ascii: ","):
                expectKey = depth == 1
                i += 1
            case UInt8(ascii: "\""):
                let (text, end) = decodeString(compact, from: i)
                i = end
                if expectKey {
                    expectKey = false
                    // `"key":"value"` at depth 1.
                    if text == key, i + 1 < compact.count, compact[i] == UInt8(ascii: ":"), compact[i + 1] == UInt8(ascii: "\"") {
                        return decodeString(compact, from: i + 1).text
                    }
                }
            default:
                i += 1
            }
        }
        return nil
    }

    /// Decodes the JSON string literal starting at `start` (its opening quote); returns its text
    /// and the index just past its closing quote. The literal must be valid.
    static func decodeString(_ bytes: [UInt8], from start: Int) -> (text: String, end: Int) {
        var out: [UInt8] = []
        var units: [UInt16] = []
        var i = start + 1
        func flushUnits() {
            if !units.isEmpty {
                out += Array(String(decoding: units, as: UTF16.self).utf8)
                units = []
            }
        }
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count {
                let e = bytes[i + 1]
                if e == UInt8(ascii: "u"), i + 5 < bytes.count,
                    let unit = UInt16(String(decoding: bytes[(i + 2)...(i + 5)], as: UTF8.self), radix: 16)
                {
                    units.append(unit)
                    i += 6
                    continue
                }
                flushUnits()
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                default: out.append(e)
                }
                i += 2
            } else {
                flushUnits()
                out.append(bytes[i])
                i += 1
            }
        }
        flushUnits()
        return (String(decoding: out, as: UTF8.self), i + 1)
    }

    /// Checks that `bytes` are valid UTF-8 with no NUL, for a text field taken from C.
    package static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < bytes.count {
            let length = scalarLength(bytes, at: index)
            guard length > 0, bytes[index] != 0 else { return false }
            index += length
        }
        return true
    }

    /// The length of the UTF-8 encoded scalar at `bytes[index]`; 0 when the bytes there are
    /// not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
    static func scalarLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let b0 = bytes[index]
        let length: Int
        var scalar: UInt32
        switch b0 {
        case 0..<0x80: return 1
        case 0xC2..<0xE0: length = 2; scalar = UInt32(b0 & 0x1F)
        case 0xE0..<0xF0: length = 3; scalar = UInt32(b0 & 0x0F)
        case 0xF0..<0xF5: length = 4; scalar = UInt32(b0 & 0x07)
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        for i in 1..<length {
            let b = bytes[index + i]
            guard b & 0xC0 == 0x80 else { return 0 }
            scalar = scalar << 6 | UInt32(b & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800..<0xE000).contains(scalar) else { return 0 }
        return length
    }

    /// A single-pass recursive descent over the bytes, writing the compact form as it goes.
    struct Scanner {
        let input: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Where the compact form goes (room for ``JSONText/maxCompactBytes(_:)``), and how
        /// much of it is written.
        let output: UnsafeMutablePointer<UInt8>
        var count = 0
        var stringMembers: [String] = []
        /// The keys of the objects being scanned, as written in `output`; each object uses the
        /// entries from its own start (one stack for all). Starts in the caller's storage,
        /// moves to the heap when that is full.
        var keys: UnsafeMutablePointer<Key>
        var keyCount = 0
        var keyCapacity: Int
        var keysOnHeap = false

        /// Where a key was written in `output` (quotes included), and whether it has escapes.
        struct Key {
            var written: Range<Int>
            var escaped: Bool
        }

        init(input: UnsafeBufferPointer<UInt8>, output: UnsafeMutablePointer<UInt8>,
             keys: UnsafeMutablePointer<Key>, keyCapacity: Int) {
            self.input = input
            self.output = output
            self.keys = keys
            self.keyCapacity = keyCapacity
        }

        mutating func pushKey(_ key: Key) {
            if keyCount == keyCapacity {
                let bigger = UnsafeMutablePointer<Key>.allocate(capacity: keyCapacity * 2)
                bigger.moveInitialize(from: keys, count: keyCount)
                if keysOnHeap { keys.deallocate() }
                keys = bigger
                keyCapacity *= 2
                keysOnHeap = true
            }
            (keys + keyCount).initialize(to: key)
            keyCount += 1
        }

        func releaseKeys() {
            if keysOnHeap { keys.deallocate() }
        }

        var atEnd: Bool { index >= input.count }
        var peek: UInt8? { atEnd ? nil : input[index] }

        func syntaxError(_ what: String) -> ValidationError {
            ValidationError(field: "", rule: "is not valid JSON (\(what) at byte \(index))")
        }

        mutating func skipWhitespace() {
            while index < input.count, case let c = input[index], c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                index += 1
            }
        }

        static func tooLarge() -> ValidationError {
            ValidationError(field: "", rule: JSONWriter.tooLarge(field: "").rule)
        }

        @inline(__always)
        mutating func emit(_ byte: UInt8) throws(ValidationError) {
            guard count < Limits.maxPropertiesBytes else { throw Self.tooLarge() }
            output[count] = byte
            count += 1
        }

        /// Copies `input[range]` to the output (a number: a few bytes, so byte by byte).
        mutating func emit(_ range: Range<Int>) throws(ValidationError) {
            guard count + range.count <= Limits.maxPropertiesBytes else { throw Self.tooLarge() }
            for i in range {
                output[count] = input[i]
                count += 1
            }
        }

        /// The decoded text of the key written at `range` (quotes included).
        func keyName(_ range: Range<Int>) -> String {
            JSONText.decodeString(Array(UnsafeBufferPointer(start: output + range.lowerBound, count: range.count)), from: 0).text
        }

        /// A key as an error message shows it (see ``JSONText/displayKey(_:)``).
        func shownKey(_ range: Range<Int>) -> String { JSONText.displayKey(keyName(range)) }

        /// Whether keys `a` and `b` are the same text once decoded.
        func sameKey(_ a: Key, _ b: Key) -> Bool {
            if a.escaped || b.escaped { return keyName(a.written) == keyName(b.written) }
            guard a.written.count == b.written.count else { return false }
            var i = a.written.lowerBound + 1, j = b.written.lowerBound + 1
            while i < a.written.upperBound {
                if output[i] != output[j] { return false }
                i += 1
                j += 1
            }
            return true
        }

        mutating func value(depth: Int) throws(ValidationError) {
            skipWhitespace()
            guard let c = peek else { throw syntaxError("unexpected end") }
            switch c {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            case UInt8(ascii: "N") where startsWith("NaN"), UInt8(ascii: "I") where startsWith("Infinity"):
                throw ValidationError(field: "", rule: "numbers must be finite (no NaN or Infinity)")
            default: throw syntaxError("unexpected character")
            }
        }

        mutating func object(depth: Int) throws(ValidationError) {
            guard depth <= Limits.maxNestingDepth else { throw JSONWriter.tooDeep(field: "") }
            index += 1
            try emit(UInt8(ascii: "{"))
            let firstKey = keyCount
            defer { keyCount = firstKey }
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return try emit(UInt8(ascii: "}"))
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw syntaxError("expected a string key") }
                let key = try string()
                // Keys are compared as decoded text, so `"a"` and `"\u0061"` are the same key.
                for k in firstKey..<keyCount where sameKey(keys[k], key) {
                    throw ValidationError(field: ".\(shownKey(key.written))", rule: "duplicate key")
                }
                pushKey(key)
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { throw syntaxError("expected ':'") }
                index += 1
                try emit(UInt8(ascii: ":"))
                if depth == 1, !stringMembers.isEmpty, stringMembers.contains(keyName(key.written)) {
                    skipWhitespace()
                    if peek != UInt8(ascii: "\"") {
                        throw ValidationError(field: ".\(shownKey(key.written))", rule: "must be a string")
                    }
                }
                do throws(ValidationError) { try value(depth: depth + 1) } catch { throw error.below(".\(shownKey(key.written))") }
                skipWhitespace()
                guard let c = peek else { throw syntaxError("unexpected end") }
                guard c == UInt8(ascii: ",") || c == UInt8(ascii: "}") else { throw syntaxError("expected ',' or '}'") }
                index += 1
                try emit(c)
                if c == UInt8(ascii: "}") { return }
            }
        }

        mutating func array(depth: Int) throws(ValidationError) {
            guard depth <= Limits.maxNestingDepth else { throw JSONWriter.tooDeep(field: "") }
            index += 1
            try emit(UInt8(ascii: "["))
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return try emit(UInt8(ascii: "]"))
            }
            var position = 0
            while true {
                do throws(ValidationError) { try value(depth: depth + 1) } catch { throw error.below("[\(position)]") }
                position += 1
                skipWhitespace()
                guard let c = peek else { throw syntaxError("unexpected end") }
                guard c == UInt8(ascii: ",") || c == UInt8(ascii: "]") else { throw syntaxError("expected ',' or ']'") }
                index += 1
                try emit(c)
                if c == UInt8(ascii: "]") { return }
            }
        }

        /// Scans a string literal; returns where it was written in `output` (quotes included)
        /// and whether it has escapes.
        mutating func string() throws(ValidationError) -> Key {
            let start = count
            var escaped = false
            index += 1
            try emit(UInt8(ascii: "\""))
            while true {
                // Plain ASCII, the usual case, is copied as it is scanned (in registers, up to
                // the size limit; `emit` below reports going over it).
                var i = index, n = count
                let from = input, to = output
                while i < from.count, n < Limits.maxPropertiesBytes, case let c = from[i],
                    c &- 0x20 < 0x60, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\")
                {
                    to[n] = c
                    i += 1
                    n += 1
                }
                index = i
                count = n
                guard index < input.count else { break }
                let c = input[index]
                switch c {
                case UInt8(ascii: "\""):
                    index += 1
                    try emit(c)
                    return Key(written: start..<count, escaped: escaped)
                case UInt8(ascii: "\\"):
                    escaped = true
                    try escape()
                case 0..<0x20:
                    throw syntaxError("unescaped control character in a string")
                case 0..<0x80:
                    try emit(c)  // plain, but the copy above stopped at the size limit: throws
                    index += 1
                default:
                    let length = JSONText.scalarLength(input, at: index)
                    guard length > 0 else { throw ValidationError(field: "", rule: "must be valid UTF-8") }
                    try emit(index..<index + length)
                    index += length
                }
            }
            throw syntaxError("unterminated string")
        }

        mutating func escape() throws(ValidationError) {
            index += 1
            guard let c = peek else { throw syntaxError("unterminated string") }
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"), UInt8(ascii: "u"):
                index += 1
            default:
                throw syntaxError("invalid escape")
            }
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                try emit(UInt8(ascii: "\\"))
                try emit(c)
            case UInt8(ascii: "u"):
                let unit = try hex4()
                if (0xD800..<0xDC00).contains(unit) {
                    guard peek == UInt8(ascii: "\\"), index + 1 < input.count,
                        input[index + 1] == UInt8(ascii: "u")
                    else { throw ValidationError(field: "", rule: "must be valid Unicode (lone surrogate)") }
                    index += 2
                    guard (0xDC00..<0xE000).contains(try hex4()) else {
                        throw ValidationError(field: "", rule: "must be valid Unicode (lone surrogate)")
                    }
                } else if (0xDC00..<0xE000).contains(unit) {
                    throw ValidationError(field: "", rule: "must be valid Unicode (lone surrogate)")
                }
            default:
                throw syntaxError("invalid escape")
            }
        }

        /// Reads four hex digits after `\u`, copying the escape to the output.
        mutating func hex4() throws(ValidationError) -> UInt32 {
            guard index + 4 <= input.count else { throw syntaxError("invalid \\u escape") }
            try emit(UInt8(ascii: "\\"))
            try emit(UInt8(ascii: "u"))
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = input[index]
                let digit: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
                default: throw syntaxError("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
                try emit(c)
                index += 1
            }
            return value
        }

        /// Whether the input at the current index starts with `word`.
        func startsWith(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= input.count else { return false }
            for i in 0..<count where input[index + i] != word.utf8Start[i] { return false }
            return true
        }

        mutating func literal(_ word: StaticString) throws(ValidationError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= input.count else { throw syntaxError("unexpected end") }
            for i in 0..<count {
                guard input[index + i] == word.utf8Start[i] else { throw syntaxError("unexpected character") }
            }
            for i in 0..<count { try emit(input[index + i]) }
            index += count
        }

        mutating func number() throws(ValidationError) {
            let start = index
            var i = index
            /// The byte at `i`, or 0 past the end.
            func at(_ i: Int) -> UInt8 { i < input.count ? input[i] : 0 }
            func digits() -> Int {
                let from = i
                while at(i) &- UInt8(ascii: "0") < 10 { i += 1 }
                return i - from
            }
            func invalid() -> ValidationError {
                index = i
                return syntaxError("invalid number")
            }
            if at(i) == UInt8(ascii: "-") { i += 1 }
            if at(i) == UInt8(ascii: "I") {
                index = i
                if startsWith("Infinity") {
                    throw ValidationError(field: "", rule: "numbers must be finite (no NaN or Infinity)")
                }
            }
            if at(i) == UInt8(ascii: "0") {
                i += 1
            } else if digits() == 0 {
                throw invalid()
            }
            if at(i) == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw invalid() }
            }
            if at(i) | 0x20 == UInt8(ascii: "e") {
                i += 1
                if at(i) == UInt8(ascii: "+") || at(i) == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw invalid() }
            }
            if at(i) &- UInt8(ascii: "0") < 10 { throw invalid() }
            index = i
            try emit(start..<index)
        }
    }
}
