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
/// that call at once share no lock and write no common cache line (a shared counter or
/// sequence number would be such a write on every call).
///
/// - The queue bound is kept in places: each shard takes a few places at a time from a shared
///   pool, which outcomes refill; only when the pool is empty are the places the other shards
///   hold taken back, so a call is refused only when the queue really is full.
/// - Each call is stamped with `CLOCK_MONOTONIC` (one clock for every CPU) under its shard's
///   lock, and ``drain()`` hands calls over in stamp order. That is call order across threads
///   too, since a call that happens after another reads the clock later, so per-identity order
///   holds whichever threads the calls came from.
final class Intake: @unchecked Sendable {
    /// One accepted call.
    struct Entry {
        /// `CLOCK_MONOTONIC` when it was appended (the order of calls across shards).
        let stamp: UInt64
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
        /// Places in the queue this shard holds for its next calls.
        var places = 0
        /// Keeps each shard's mutex and fields on cache lines no other shard writes.
        var padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    private static let shardCount = 16
    private let shards = UnsafeMutablePointer<Shard>.allocate(capacity: Intake.shardCount)
    private let capacity: Int
    /// Free places in the queue not held by a shard: `capacity` less the calls accepted whose
    /// request has no final outcome yet (here or in the scheduler) and the places shards hold.
    private let pool: Atomic<Int>
    /// How many places a shard takes from the pool at a time.
    private let placesPerTake: Int

    /// An intake holding at most `capacity` pending events (see ``finished(_:)``).
    init(capacity: Int) {
        self.capacity = capacity
        pool = Atomic(capacity)
        placesPerTake = min(64, max(1, capacity / (Self.shardCount * 16)))
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
        let i = ThreadSlot.current % Self.shardCount
        pthread_mutex_lock(mutex(i))
        defer { pthread_mutex_unlock(mutex(i)) }
        guard !shards[i].closed else { return .closed }
        if shards[i].places == 0 {
            shards[i].places = takePlaces(placesPerTake)
            if shards[i].places == 0 {
                // The pool is empty: take back what the other shards hold, then try again.
                pthread_mutex_unlock(mutex(i))
                reclaimPlaces()
                pthread_mutex_lock(mutex(i))
                guard !shards[i].closed else { return .closed }
                if shards[i].places == 0 { shards[i].places = takePlaces(1) }
                if shards[i].places == 0 { return .full }
            }
        }
        shards[i].places -= 1
        let first = shards[i].entries.isEmpty
        shards[i].entries.append(
            Entry(
                stamp: Clock.monotonicNanoseconds(), endpoint: endpoint, identity: identity, body: body,
                linked: linked, queuedAt: now))
        return .accepted(first: first)
    }

    /// Tells the bound that `count` events have their final outcome (delivered, rejected, given
    /// up or dropped), making room for as many new ones.
    func finished(_ count: Int) {
        if count > 0 { pool.wrappingAdd(count, ordering: .relaxed) }
    }

    /// Takes up to `count` places from the pool.
    private func takePlaces(_ count: Int) -> Int {
        var free = pool.load(ordering: .relaxed)
        while free > 0 {
            let taken = min(free, count)
            let (exchanged, current) = pool.compareExchange(
                expected: free, desired: free - taken, ordering: .relaxed)
            if exchanged { return taken }
            free = current
        }
        return 0
    }

    /// Returns the places every shard holds to the pool (one shard locked at a time).
    private func reclaimPlaces() {
        for i in 0..<Self.shardCount {
            pthread_mutex_lock(mutex(i))
            pool.wrappingAdd(shards[i].places, ordering: .relaxed)
            shards[i].places = 0
            pthread_mutex_unlock(mutex(i))
        }
    }

    /// Removes and returns the queued calls, in call order: every call stamped before the drain
    /// began, and all of them once the intake is closed. (A call stamped later may stay for the
    /// next drain: shards are visited one after another, and a later call taken from one shard
    /// before an earlier call from another was appended would be handed over first.)
    func drain() -> [Entry] {
        // A call stamped before `cutoff` held its shard's lock when it read the clock, before
        // this read: the visit below waits for it to finish appending.
        let cutoff = Clock.monotonicNanoseconds()
        var batches: [[Entry]] = []
        for i in 0..<Self.shardCount {
            pthread_mutex_lock(mutex(i))
            if let last = shards[i].entries.last {
                // A closed shard takes no more calls: all of it is handed over (at shutdown).
                if last.stamp < cutoff || shards[i].closed {
                    batches.append(shards[i].entries)
                    shards[i].entries = []
                } else if let end = shards[i].entries.firstIndex(where: { $0.stamp >= cutoff }), end > 0 {
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
            shards[i].places = 0
        }
        pool.store(capacity, ordering: .relaxed)
    }

    private func mutex(_ i: Int) -> UnsafeMutablePointer<pthread_mutex_t> {
        (shards + i).pointer(to: \.mutex)!
    }

    /// Batches each in stamp order, merged into one (equal stamps: the earlier shard first, so
    /// one shard's calls keep their order).
    private static func merged(_ batches: [[Entry]]) -> [Entry] {
        var all: [Entry] = []
        all.reserveCapacity(batches.reduce(0) { $0 + $1.count })
        var next = Array(repeating: 0, count: batches.count)
        while true {
            var pick: Int?
            for b in batches.indices where next[b] < batches[b].count {
                if let p = pick, batches[p][next[p]].stamp <= batches[b][next[b]].stamp { continue }
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
