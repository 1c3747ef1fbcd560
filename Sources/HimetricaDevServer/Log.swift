#if DevServer  // a package trait (Package.swift)
/// An append-only log of records numbered 1, 2, 3, … that keeps only the newest `capacity`
/// records (older ones are forgotten in batches; numbering continues).
struct BoundedLog<Record> {
    private(set) var records: [Record] = []
    /// Sequence number of `records[0]`.
    private(set) var firstSeq = 1
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Sequence number the next appended record gets.
    var nextSeq: Int { firstSeq + records.count }

    /// Appends `record` and returns its sequence number.
    @discardableResult
    mutating func append(_ record: Record) -> Int {
        let seq = nextSeq
        records.append(record)
        if records.count > capacity + capacity / 4 {
            let excess = records.count - capacity
            records.removeFirst(excess)
            firstSeq += excess
        }
        return seq
    }

    /// Changes the record numbered `seq`, if it is still kept.
    mutating func update(_ seq: Int, _ change: (inout Record) -> Void) {
        let index = seq - firstSeq
        guard index >= 0, index < records.count else { return }
        change(&records[index])
    }

    /// The kept records numbered above `seq`, oldest first.
    func after(_ seq: Int) -> ArraySlice<Record> {
        let start = min(max(0, seq + 1 - firstSeq), records.count)
        return records[start...]
    }
}
#endif
