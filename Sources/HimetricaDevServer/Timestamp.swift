#if DevServer  // a package trait (Package.swift)
/// Checks ISO 8601 timestamps in the profile the dev server accepts (RFC 3339 date-time):
/// `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds (`.` and 1–9 digits), then `Z` or a
/// `±hh:mm` / `±hhmm` offset. Field ranges are checked (month, day of that month, hour ≤ 23,
/// minute and second ≤ 59, offset hours ≤ 23). Dates without a time or zone are rejected.
enum Timestamp {
    /// True when `text` is a timestamp of the accepted form.
    static func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        var i = 0
        /// Reads exactly `count` ASCII digits as a number.
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for _ in 0..<count {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
                i += 1
            }
            return value
        }
        /// Consumes the character `c`.
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            expect("T"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
            let second = digits(2)
        else { return false }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 59
        else { return false }
        if expect(".") {
            let start = i
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard (1...9).contains(i - start) else { return false }
        }
        if expect("Z") { return i == b.count }
        guard expect("+") || expect("-"), let offsetHours = digits(2), offsetHours <= 23 else { return false }
        _ = expect(":")
        guard let offsetMinutes = digits(2), offsetMinutes <= 59 else { return false }
        return i == b.count
    }

    /// Number of days in `month` of `year` (Gregorian calendar).
    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
#endif
