/// A first-in first-out queue with O(1) amortised push and pop (the standard library has no
/// deque, and the C library must not pull in swift-collections).
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: Element? { isEmpty ? nil : items[head] }

    /// The element `offset` places after the oldest (`offset < count`).
    subscript(offset offset: Int) -> Element { items[head + offset] }

    mutating func push(_ element: Element) { items.append(element) }

    /// Appends `element`; returns whether the queue was empty before.
    mutating func pushReportingEmpty(_ element: Element) -> Bool {
        let wasEmpty = isEmpty
        items.append(element)
        return wasEmpty
    }

    /// Replaces the oldest element (the queue must not be empty).
    mutating func replaceFirst(with element: Element) { items[head] = element }

    mutating func pop() -> Element? {
        guard !isEmpty else { return nil }
        let element = items[head]
        head += 1
        if head >= 64, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Changes the newest `count` elements (at most all of them) in place.
    mutating func updateLast(_ count: Int, _ change: (inout Element) -> Void) {
        for i in max(head, items.count - count)..<items.count { change(&items[i]) }
    }

    /// Removes and returns every element, oldest first.
    mutating func drain() -> [Element] {
        defer { items = []; head = 0 }
        return Array(items[head...])
    }
}
