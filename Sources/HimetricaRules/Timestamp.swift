/// ISO 8601 timestamps, as the API's `timestamp` field takes them.
///
/// Accepted: the RFC 3339 profile of ISO 8601, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`,
/// with upper-case `T` and `Z` and seconds up to 59 (the forms every ISO 8601 parser takes).
/// Written: UTC with milliseconds, `2026-11-29T19:02:26.123Z`, for years 0001 to 9999.
package enum Timestamp {
    /// Checks that `text` is an ISO 8601 date-time with a time zone.
    package static func validate(_ text: String) throws(ValidationError) {
        guard isValid(Array(text.utf8)) else {
            throw ValidationError(
                field: "timestamp",
                rule: "must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z")
        }
    }

    /// The Unix times (ms) that can be written: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
    package static let representable: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// Formats Unix time in milliseconds as UTC, with milliseconds.
    ///
    /// - Throws: ``ValidationError`` for a time outside ``representable``.
    package static func format(unixMilliseconds ms: Int64) throws(ValidationError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        try write(unixMilliseconds: ms, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the formatted time (without quotes) to `out`; the hot path of every track call.
    ///
    /// - Throws: ``ValidationError`` for a time outside ``representable``.
    package static func write(unixMilliseconds ms: Int64, into out: inout [UInt8]) throws(ValidationError) {
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = try withUnsafeMutableBytes(of: &buffer) { raw throws(ValidationError) in
            try write(unixMilliseconds: ms, to: raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        withUnsafeBytes(of: &buffer) { out.append(contentsOf: $0.prefix(count)) }
    }

    /// Writes the formatted time (without quotes, 24 bytes) at `out`; returns the count.
    ///
    /// - Throws: ``ValidationError`` for a time outside ``representable``.
    package static func write(unixMilliseconds ms: Int64, to out: UnsafeMutablePointer<UInt8>) throws(ValidationError) -> Int {
        guard representable.contains(ms) else {
            throw ValidationError(field: "timestamp", rule: "must be between the years 0001 and 9999")
        }
        var days = ms / 86_400_000
        if ms % 86_400_000 < 0 { days -= 1 }
        let msOfDay = ms - days * 86_400_000
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        // Fixed width, so every character has a fixed place. Constant divisors only: the
        // compiler turns them into multiplications.
        let zero = UInt8(ascii: "0")
        func two(_ value: Int64, at i: Int) {
            out[i] = zero + UInt8(truncatingIfNeeded: value / 10)
            out[i + 1] = zero + UInt8(truncatingIfNeeded: value % 10)
        }
        let seconds = msOfDay / 1000
        two(year / 100, at: 0); two(year % 100, at: 2); out[4] = UInt8(ascii: "-")
        two(month, at: 5); out[7] = UInt8(ascii: "-")
        two(day, at: 8); out[10] = UInt8(ascii: "T")
        two(seconds / 3600, at: 11); out[13] = UInt8(ascii: ":")
        two(seconds / 60 % 60, at: 14); out[16] = UInt8(ascii: ":")
        two(seconds % 60, at: 17); out[19] = UInt8(ascii: ".")
        out[20] = zero + UInt8(truncatingIfNeeded: msOfDay % 1000 / 100); two(msOfDay % 100, at: 21)
        out[23] = UInt8(ascii: "Z")
        return 24
    }

    private static func isValid(_ s: [UInt8]) -> Bool {
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= s.count else { return nil }
            var value = 0
            for _ in 0..<width {
                let c = s[i]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                i += 1
            }
            return value
        }
        func expect(_ chars: String) -> Bool {
            guard i < s.count, chars.utf8.contains(s[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"),
            let day = number(2), expect("T"), let hour = number(2), expect(":"),
            let minute = number(2), expect(":"), let second = number(2)
        else { return false }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 59
        else { return false }
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < s.count, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") { i += 1 }
            guard i > start, i - start <= 9 else { return false }
        }
        if i < s.count, s[i] == UInt8(ascii: "Z") {
            return i + 1 == s.count
        }
        guard expect("+-"), let offsetHours = number(2), expect(":"), let offsetMinutes = number(2)
        else { return false }
        return i == s.count && offsetHours <= 23 && offsetMinutes <= 59
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
