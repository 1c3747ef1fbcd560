/// Writes compact JSON, checking the rules for `properties` and `traits` as it goes.
package struct JSONWriter {
    /// The bytes written so far.
    package var bytes: [UInt8] = []

    /// Creates an empty writer with room for `capacity` bytes.
    package init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends raw bytes that are already valid JSON (or punctuation).
    package mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends pre-validated JSON bytes.
    package mutating func raw(_ json: [UInt8]) {
        bytes.append(contentsOf: json)
    }

    /// Appends `"key":`.
    package mutating func key(_ key: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends a JSON string literal, escaping as RFC 8259 requires.
    package mutating func string(_ s: String) {
        var text = s
        text.withUTF8 { string($0) }
    }

    /// Appends a JSON string literal from UTF-8 bytes, escaping as RFC 8259 requires.
    package mutating func string(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        for (i, b) in utf8.enumerated() where Self.needsEscape(b) {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
            runStart = i + 1
            Self.escape(b, raw: { raw($0) }, byte: { bytes.append($0) })
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        bytes.append(UInt8(ascii: "\""))
    }

    /// Whether `b` must be escaped inside a JSON string: `"`, `\\` and control characters.
    @inline(__always)
    static func needsEscape(_ b: UInt8) -> Bool {
        b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\")
    }

    /// How many bytes `utf8` takes as a JSON string literal written by ``escape(_:raw:byte:)``'s
    /// rule, quotes included.
    static func literalCount(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
        var count = utf8.count + 2
        for b in utf8 where needsEscape(b) {
            // The escape's length, counted off the one escaping rule: one byte it replaces.
            escape(b, raw: { count += $0.utf8CodeUnitCount }, byte: { _ in count += 1 })
            count -= 1
        }
        return count
    }

    /// Writes the escape sequence for `b` (one that ``needsEscape(_:)``) through `raw` and `byte`:
    /// the short forms where JSON has them, `\\u00XX` otherwise. The one escaping rule of every
    /// writer.
    @inline(__always)
    static func escape(_ b: UInt8, raw: (StaticString) -> Void, byte: (UInt8) -> Void) {
        switch b {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case 0x0A: raw("\\n")
        case 0x0D: raw("\\r")
        case 0x09: raw("\\t")
        default:
            let hex: StaticString = "0123456789abcdef"
            raw("\\u00")
            byte(hex.utf8Start[Int(b >> 4)])
            byte(hex.utf8Start[Int(b & 0xF)])
        }
    }

    /// Serializes `value` as a compact JSON object for the field `field` (`properties` or
    /// `traits`): it must be an object, numbers finite, nesting and size within ``Limits``.
    /// Object keys are written in sorted order, so equal values give equal bytes.
    ///
    /// - Parameter stringMembers: top-level keys whose values, when present, must be strings.
    package static func object(
        _ value: JSONValue, field: String, stringMembers: [String] = []
    ) throws(ValidationError) -> [UInt8] {
        guard case .object(let members) = value else {
            throw ValidationError(field: field, rule: "must be a JSON object")
        }
        for key in stringMembers {
            switch members[key] {
            case nil, .string: continue
            default: throw ValidationError(field: "\(field).\(JSONText.displayKey(key))", rule: "must be a string")
            }
        }
        var writer = JSONWriter()
        do throws(ValidationError) { try writer.value(value, depth: 1) } catch { throw error.within(field) }
        return writer.bytes
    }

    /// The error for an object over ``Limits/maxPropertiesBytes``.
    static func tooLarge(field: String) -> ValidationError {
        ValidationError(field: field, rule: "must be at most \(Limits.maxPropertiesBytes) bytes as compact JSON")
    }

    /// The error for nesting deeper than ``Limits/maxNestingDepth``.
    static func tooDeep(field: String) -> ValidationError {
        ValidationError(field: field, rule: "must not nest deeper than \(Limits.maxNestingDepth) levels")
    }

    /// Writes `value`; an error's field is the path below this value, which callers prefix.
    private mutating func value(_ value: JSONValue, depth: Int) throws(ValidationError) {
        switch value {
        case .null: raw("null")
        case .bool(let b): b ? raw("true") : raw("false")
        case .int(let i): bytes += Array(String(i).utf8)
        case .double(let d):
            guard d.isFinite else {
                throw ValidationError(field: "", rule: "numbers must be finite (no NaN or Infinity)")
            }
            if d == d.rounded(), abs(d) < 1e15 {
                bytes += Array(String(Int64(d)).utf8)
            } else {
                bytes += Array(String(d).utf8)
            }
        case .string(let s): string(s)
        case .array(let items):
            guard depth <= Limits.maxNestingDepth else { throw Self.tooDeep(field: "") }
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                do throws(ValidationError) { try self.value(item, depth: depth + 1) } catch { throw error.below("[\(index)]") }
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth <= Limits.maxNestingDepth else { throw Self.tooDeep(field: "") }
            bytes.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(key)
                bytes.append(UInt8(ascii: ":"))
                do throws(ValidationError) { try self.value(members[key]!, depth: depth + 1) } catch { throw error.below(".\(JSONText.displayKey(key))") }
            }
            bytes.append(UInt8(ascii: "}"))
        }
        if bytes.count > Limits.maxPropertiesBytes {
            throw ValidationError(field: "", rule: Self.tooLarge(field: "").rule)
        }
    }
}

extension ValidationError {
    /// The same error one level further out: `component` (`.key` or `[index]`) goes in front
    /// of the field path. Size errors are about the whole object, so they keep no path.
    func below(_ component: String) -> ValidationError {
        if rule == JSONWriter.tooLarge(field: "").rule { return self }
        return ValidationError(field: component + field, rule: rule)
    }

    /// The error with the top-level field name put in front of its path.
    func within(_ topField: String) -> ValidationError {
        ValidationError(field: topField + field, rule: rule)
    }
}
