import HimetricaRules
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where accepted track and identify calls wait until the flush thread takes them into the
/// ``Scheduler``.
///
/// Each calling thread appends to a shard of its own (threads take shards in turn), so threads
/// that call at once share no lock and write no common cache line except two counters: the
/// queue bound and a sequence number. The sequence number is taken under the shard's lock, so
/// ``drain()`` hands calls over in call order, across threads too: per-identity order holds
/// whichever threads the calls came from.
final class Intake: @unchecked Sendable {
    /// One accepted call.
    struct Entry {
        let sequence: UInt64
        let endpoint: Endpoint
        let identity: Identity
        let body: [UInt8]
        let linked: Identity?
        /// Monotonic time of the call.
        let queuedAt: UInt64
    }

    /// What ``push(_:identity:body:linked:now:)`` did.
    enum Pushed {
        /// Queued. `first`: its shard was empty, so the flush thread may not know of it yet.
        case accepted(first: Bool)
        /// The queue bound is reached: nothing was queued.
        case full
        /// ``close()`` was called: nothing was queued.
        case closed
    }

    private struct Shard {
        var mutex = pthread_mutex_t()
        var entries: [Entry] = []
        var closed = false
        /// Keeps each shard's mutex and fields on cache lines no other shard writes.
        var padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    private static let shardCount = 16
    private let shards = UnsafeMutablePointer<Shard>.allocate(capacity: Intake.shardCount)
    private let capacity: Int
    /// Accepted calls whose request has no final outcome yet, here or in the scheduler.
    private let pending = Atomic<Int>(0)
    private let nextSequence = Atomic<UInt64>(0)

    /// An intake holding at most `capacity` pending events (see ``finished(_:)``).
    init(capacity: Int) {
        self.capacity = capacity
        shards.initialize(repeating: Shard(), count: Self.shardCount)
        for i in 0..<Self.shardCount { pthread_mutex_init(mutex(i), nil) }
    }

    deinit {
        for i in 0..<Self.shardCount { pthread_mutex_destroy(mutex(i)) }
        shards.deinitialize(count: Self.shardCount)
        shards.deallocate()
    }

    /// Queues a call on the calling thread's shard, unless the bound is reached or the intake
    /// is closed.
    func push(_ endpoint: Endpoint, identity: Identity, body: [UInt8], linked: Identity?, now: UInt64) -> Pushed {
        if pending.wrappingAdd(1, ordering: .relaxed).newValue > capacity {
            pending.wrappingSubtract(1, ordering: .relaxed)
            return .full
        }
        let i = ThreadSlot.current % Self.shardCount
        pthread_mutex_lock(mutex(i))
        defer { pthread_mutex_unlock(mutex(i)) }
        guard !shards[i].closed else {
            pending.wrappingSubtract(1, ordering: .relaxed)
            return .closed
        }
        let first = shards[i].entries.isEmpty
        shards[i].entries.append(
            Entry(
                sequence: nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue, endpoint: endpoint,
                identity: identity, body: body, linked: linked, queuedAt: now))
        return .accepted(first: first)
    }

    /// Tells the bound that `count` events have their final outcome (delivered, rejected, given
    /// up or dropped), making room for as many new ones.
    func finished(_ count: Int) {
        if count > 0 { pending.wrappingSubtract(count, ordering: .relaxed) }
    }

    /// Removes and returns the queued calls, in call order: every call numbered before the
    /// drain began. (A call numbered later may stay for the next drain: shards are visited one
    /// after another, and a later call taken from one shard before an earlier call from another
    /// was appended would be handed over first.)
    func drain() -> [Entry] {
        // A call holding a number below `cutoff` holds its shard's lock until it has appended,
        // so the visit below waits for it.
        let cutoff = nextSequence.load(ordering: .relaxed)
        var batches: [[Entry]] = []
        for i in 0..<Self.shardCount {
            pthread_mutex_lock(mutex(i))
            if let last = shards[i].entries.last {
                if last.sequence < cutoff {
                    batches.append(shards[i].entries)
                    shards[i].entries = []
                } else if let end = shards[i].entries.firstIndex(where: { $0.sequence >= cutoff }), end > 0 {
                    batches.append(Array(shards[i].entries[..<end]))
                    shards[i].entries.removeFirst(end)
                }
            }
            pthread_mutex_unlock(mutex(i))
        }
        return batches.count == 1 ? batches[0] : Self.merged(batches)
    }

    /// Calls queued and not yet drained.
    var count: Int {
        (0..<Self.shardCount).reduce(0) { total, i in
            pthread_mutex_lock(mutex(i))
            defer { pthread_mutex_unlock(mutex(i)) }
            return total + shards[i].entries.count
        }
    }

    /// Refuses every later call (what is queued stays, to be drained).
    func close() {
        for i in 0..<Self.shardCount {
            pthread_mutex_lock(mutex(i))
            shards[i].closed = true
            pthread_mutex_unlock(mutex(i))
        }
    }

    /// Holds every shard across `fork()` (after the engine's lock), so the child sees no
    /// half-done push.
    func lockForFork() {
        for i in 0..<Self.shardCount { pthread_mutex_lock(mutex(i)) }
    }

    /// In the parent after `fork()`.
    func unlockAfterFork() {
        for i in 0..<Self.shardCount { pthread_mutex_unlock(mutex(i)) }
    }

    /// In the child after `fork()`: empty (the parent's calls stay the parent's), open unless
    /// `closed`, with usable locks.
    func resetAfterFork(closed: Bool) {
        for i in 0..<Self.shardCount {
            pthread_mutex_init(mutex(i), nil)
            shards[i].entries = []
            shards[i].closed = closed
        }
        pending.store(0, ordering: .relaxed)
    }

    private func mutex(_ i: Int) -> UnsafeMutablePointer<pthread_mutex_t> {
        (shards + i).pointer(to: \.mutex)!
    }

    /// Batches each in sequence order, merged into one.
    private static func merged(_ batches: [[Entry]]) -> [Entry] {
        var all: [Entry] = []
        all.reserveCapacity(batches.reduce(0) { $0 + $1.count })
        var next = Array(repeating: 0, count: batches.count)
        while true {
            var pick: Int?
            for b in batches.indices where next[b] < batches[b].count {
                if let p = pick, batches[p][next[p]].sequence < batches[b][next[b]].sequence { continue }
                pick = b
            }
            guard let p = pick else { return all }
            all.append(batches[p][next[p]])
            next[p] += 1
        }
    }
}

/// A small number per thread, handed out in turn on a thread's first call, so concurrent
/// callers land on different shards.
private enum ThreadSlot {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    private static let next = Atomic<Int>(1)

    static var current: Int {
        if let slot = pthread_getspecific(key) { return Int(bitPattern: slot) }
        let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot))
        return slot
    }
}
