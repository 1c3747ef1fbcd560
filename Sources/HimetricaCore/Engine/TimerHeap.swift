/// A min-heap of values keyed by a due time, for lanes waiting out a backoff.
struct TimerHeap<Value> {
    private var items: [(due: UInt64, value: Value)] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    /// The earliest due time, if any.
    var nextDue: UInt64? { items.first?.due }

    mutating func insert(_ value: Value, due: UInt64) {
        items.append((due, value))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest value if it is due at `now`.
    mutating func popDue(now: UInt64) -> Value? {
        guard let first = items.first, first.due <= now else { return nil }
        items.swapAt(0, items.count - 1)
        let value = items.removeLast().value
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].due < items[smallest].due { smallest = left }
            if right < items.count, items[right].due < items[smallest].due { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return value
    }

    /// Removes and returns every value.
    mutating func drain() -> [Value] {
        defer { items = [] }
        return items.map(\.value)
    }
}
