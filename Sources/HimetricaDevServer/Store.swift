#if DevServer  // a package trait (Package.swift)
import Synchronization

/// Why an API request could not be applied.
enum StoreError: Error, Equatable {
    /// The identity names no known visitor: 404 `Visitor not found`.
    case visitorNotFound
}

/// A person as Himetrica sees them: one `hm_usr_` id, possibly several visitors (devices) merged
/// by a shared external id, and the traits set by identify.
struct User: Sendable {
    var id: String
    var externalId: String?
    var email: String?
    var name: String?
    var metadata: [(String, JSONValue)] = []
    /// Visitor ids, the most recently active last.
    var visitors: [String]
}

/// A browser visitor: belongs to one user and may have sessions.
struct Visitor: Sendable {
    var id: String
    var userId: String
    var latestSession: String?
}

/// The dev server's model of the project: visitors, users and the identity indexes.
struct Directory: Sendable {
    var visitors: [String: Visitor] = [:]
    var users: [String: User] = [:]
    /// Ids of users merged away → the id of the user they were merged into.
    var aliases: [String: String] = [:]
    var emails: [String: String] = [:]
    var externalIds: [String: String] = [:]
    var sessionCounter = 0

    /// The visitor `id`, created with its own user when missing and `create` is set.
    mutating func visitor(_ id: String, create: Bool) -> Visitor? {
        if let visitor = visitors[id] { return visitor }
        guard create else { return nil }
        let userId = newUserId(for: id)
        let visitor = Visitor(id: id, userId: userId)
        visitors[id] = visitor
        users[userId] = User(id: userId, visitors: [id])
        return visitor
    }

    /// The user and visitor an identity resolves to; a user resolves to its most recently active visitor.
    mutating func resolve(_ identity: Identity, create: Bool) throws(StoreError) -> (user: User, visitor: Visitor) {
        switch identity {
        case .visitorId(let id):
            guard let visitor = visitor(id, create: create), var user = users[visitor.userId] else {
                throw .visitorNotFound
            }
            if user.visitors.last != id {
                user.visitors.removeAll { $0 == id }
                user.visitors.append(id)
                users[user.id] = user
            }
            return (user, visitor)
        case .userId(let id):
            guard let user = users[aliases[id] ?? id], let last = user.visitors.last, let visitor = visitors[last] else {
                throw .visitorNotFound
            }
            return (user, visitor)
        case .email(let email):
            guard let userId = emails[email], let user = users[userId], let last = user.visitors.last,
                let visitor = visitors[last]
            else { throw .visitorNotFound }
            return (user, visitor)
        }
    }

    /// Applies identify traits to `user`, merging it into the user that already owns the
    /// external id if there is one. Returns the id of the user that now holds the traits.
    mutating func apply(_ request: IdentifyRequest, to userId: String) -> String {
        var targetId = userId
        if let external = request.externalId {
            if let owner = externalIds[external], owner != userId, users[owner] != nil {
                merge(userId, into: owner)
                targetId = owner
            } else {
                if let old = users[userId]?.externalId, externalIds[old] == userId { externalIds[old] = nil }
                externalIds[external] = userId
            }
        }
        guard var user = users[targetId] else { return targetId }
        user.externalId = request.externalId ?? user.externalId
        if let email = request.email {
            if let old = user.email, emails[old] == targetId { emails[old] = nil }
            user.email = email
            emails[email] = targetId
        }
        if let name = request.name { user.name = name }
        for (key, value) in request.metadata {
            user.metadata.removeAll { $0.0 == key }
            user.metadata.append((key, value))
        }
        users[targetId] = user
        return targetId
    }

    /// Moves every visitor of user `fromId` to user `toId` and makes `fromId` an alias of it.
    private mutating func merge(_ fromId: String, into toId: String) {
        guard let from = users.removeValue(forKey: fromId), var to = users[toId] else { return }
        for visitorId in from.visitors {
            visitors[visitorId]?.userId = toId
            to.visitors.removeAll { $0 == visitorId }
            to.visitors.append(visitorId)
        }
        if to.email == nil, let email = from.email { to.email = email }
        for (key, value) in from.metadata where !to.metadata.contains(where: { $0.0 == key }) {
            to.metadata.append((key, value))
        }
        users[toId] = to
        for (email, owner) in emails where owner == fromId { emails[email] = toId }
        for (external, owner) in externalIds where owner == fromId { externalIds[external] = nil }
        for (alias, target) in aliases where target == fromId { aliases[alias] = toId }
        aliases[fromId] = toId
    }

    /// Attaches a tracked event of `visitorId` to a session as asked; returns the session id.
    mutating func session(_ choice: SessionChoice, visitorId: String) -> String? {
        switch choice {
        case .none: return nil
        case .latest: return visitors[visitorId]?.latestSession
        case .new:
            sessionCounter += 1
            let id = "hm_ses_" + String(sessionCounter, radix: 16)
            visitors[visitorId]?.latestSession = id
            return id
        }
    }

    /// A stable `hm_usr_` id derived from the visitor id (the same visitor gets the same id after a
    /// reset or restart), with a counter mixed in on the rare collision.
    private func newUserId(for visitorId: String) -> String {
        var attempt = 0
        while true {
            let input = attempt == 0 ? visitorId : "\(visitorId)#\(attempt)"
            let id = "hm_usr_" + Self.hex(Self.fnv1a(input, basis: 0xCBF2_9CE4_8422_2325))
                + Self.hex(Self.fnv1a(input, basis: 0x8422_2325_CBF2_9CE4)).prefix(8)
            if users[id] == nil && aliases[id] == nil { return id }
            attempt += 1
        }
    }

    private static func fnv1a(_ text: String, basis: UInt64) -> UInt64 {
        var hash = basis
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        return hash
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// An accepted track or identify, as `/_dev/events` shows it (pre-serialized).
struct EventRecord: Sendable {
    let json: String
}

/// One request that reached `/api/v1/*`, as `/_dev/requests` shows it.
struct RequestRecord: Sendable {
    let method: String
    let endpoint: String
    let receivedAt: Double
    var status: Int?
    var fault: String?
}

/// Identifies a request's record so its outcome can be filled in later; stale after a reset.
struct RequestTicket: Sendable {
    let epoch: Int
    let seq: Int
    let endpoint: String
}

/// The dev server's state: directory, inspection logs and counters, behind one mutex that is
/// never held across a suspension point.
final class Store: Sendable {
    private struct State {
        var directory = Directory()
        var events: BoundedLog<EventRecord>
        var requests: BoundedLog<RequestRecord>
        var acceptedEvents = 0
        var perVisitorDrops = 0
        /// endpoint → status → count.
        var statuses: [String: [Int: Int]] = [:]
        /// fault kind → count.
        var faults: [String: Int] = [:]
        var visitorLimit = VisitorEventLimit()
        /// How many resets there have been: tickets of an earlier epoch are stale.
        var epoch = 0
        /// Set when the directory changed since the last save.
        var dirty = false
    }

    private let state: Mutex<State>
    private let clock: ServerClock
    private let autoCreate: Bool
    private let perVisitorLimit: Bool
    private let capacity: Int

    init(options: DevServerOptions, clock: ServerClock, directory: Directory = Directory()) {
        self.clock = clock
        autoCreate = options.autoCreateVisitors
        perVisitorLimit = options.perVisitorLimit
        capacity = options.maxLogEntries
        var initial = State(events: BoundedLog(capacity: capacity), requests: BoundedLog(capacity: capacity))
        initial.directory = directory
        state = Mutex(initial)
    }

    // MARK: API operations

    /// `GET /user-id`: the visitor's user id.
    func userId(forVisitor visitorId: String) throws(StoreError) -> String {
        try state.withLock { (state: inout State) throws(StoreError) -> String in
            let existed = state.directory.visitors[visitorId] != nil
            let (user, _) = try state.directory.resolve(.visitorId(visitorId), create: autoCreate)
            if !existed { state.dirty = true }
            return user.id
        }
    }

    /// `POST /track`: records the event unless the per-visitor limit drops it.
    func track(_ request: TrackRequest, body: String, key: String) throws(StoreError) {
        let now = clock.now()
        try state.withLock { (state: inout State) throws(StoreError) in
            let (user, visitor) = try state.directory.resolve(request.identity, create: autoCreate)
            state.dirty = true
            if perVisitorLimit, !state.visitorLimit.admit(visitor: visitor.id, now: now) {
                state.perVisitorDrops += 1
                return
            }
            let session = state.directory.session(request.session, visitorId: visitor.id)
            record(&state, endpoint: "track", now: now, key: key, body: body, visitorId: visitor.id,
                   userId: user.id, session: .some(session))
        }
    }

    /// `POST /identify`: applies the traits and records the call.
    func identify(_ request: IdentifyRequest, body: String, key: String) throws(StoreError) {
        let now = clock.now()
        try state.withLock { (state: inout State) throws(StoreError) in
            let (user, visitor) = try state.directory.resolve(request.identity, create: autoCreate)
            let userId = state.directory.apply(request, to: user.id)
            state.dirty = true
            record(&state, endpoint: "identify", now: now, key: key, body: body, visitorId: visitor.id,
                   userId: userId, session: nil)
        }
    }

    /// Appends an accepted event to the inspection log. `session` is nil for identify (no
    /// member) and `.some(nil)` for a track without session.
    private func record(
        _ state: inout State, endpoint: String, now: Double, key: String, body: String,
        visitorId: String, userId: String, session: String??
    ) {
        state.acceptedEvents += 1
        let seq = state.events.nextSeq
        var json = "{\"seq\":\(seq),\"endpoint\":\"\(endpoint)\",\"receivedAt\":\(clock.unix(now) * 1000),"
        json += "\"key\":" + JSONValue.quoted(Keys.mask(key)) + ",\"body\":" + body
        json += ",\"visitorId\":" + JSONValue.quoted(visitorId) + ",\"userId\":" + JSONValue.quoted(userId)
        if let session { json += ",\"sessionId\":" + (session.map(JSONValue.quoted) ?? "null") }
        json += "}"
        state.events.append(EventRecord(json: json))
    }

    // MARK: Request log and counters

    /// Records the arrival of a request to `/api/v1/*`.
    func begin(method: String, endpoint: String) -> RequestTicket {
        let receivedAt = clock.unix(clock.now()) * 1000
        return state.withLock { state in
            let seq = state.requests.append(
                RequestRecord(method: method, endpoint: endpoint, receivedAt: receivedAt, status: nil, fault: nil)
            )
            return RequestTicket(epoch: state.epoch, seq: seq, endpoint: endpoint)
        }
    }

    /// Records how a request ended: the status answered (nil when none) and the fault injected.
    func finish(_ ticket: RequestTicket, status: Int?, fault: String?) {
        state.withLock { state in
            guard state.epoch == ticket.epoch else { return }
            state.requests.update(ticket.seq) {
                $0.status = status
                $0.fault = fault
            }
            if let status { state.statuses[ticket.endpoint, default: [:]][status, default: 0] += 1 }
            if let fault { state.faults[fault, default: 0] += 1 }
        }
    }

    // MARK: Inspection

    /// `/_dev/events` JSON for events numbered above `after`.
    func eventsJSON(after: Int) -> String {
        state.withLock { state in
            "{\"events\":[" + state.events.after(after).map(\.json).joined(separator: ",") + "]}"
        }
    }

    /// `/_dev/requests` JSON for requests numbered above `after`.
    func requestsJSON(after: Int) -> String {
        state.withLock { state in
            var out = "{\"requests\":["
            var seq = max(after + 1, state.requests.firstSeq)
            for (i, r) in state.requests.after(after).enumerated() {
                if i > 0 { out += "," }
                out += "{\"seq\":\(seq),\"method\":" + JSONValue.quoted(r.method) + ",\"endpoint\":\"\(r.endpoint)\""
                out += ",\"receivedAt\":\(r.receivedAt),\"status\":" + (r.status.map(String.init) ?? "null")
                out += ",\"fault\":" + (r.fault.map(JSONValue.quoted) ?? "null") + "}"
                seq += 1
            }
            return out + "]}"
        }
    }

    /// `/_dev/stats` JSON.
    func statsJSON() -> String {
        state.withLock { state in
            let endpoints = state.statuses.keys.sorted().map { endpoint in
                let counts = state.statuses[endpoint]!.keys.sorted().map { "\"\($0)\":\(state.statuses[endpoint]![$0]!)" }
                return "\"\(endpoint)\":{" + counts.joined(separator: ",") + "}"
            }
            let faults = state.faults.keys.sorted().map { "\"\($0)\":\(state.faults[$0]!)" }
            return "{\"endpoints\":{" + endpoints.joined(separator: ",") + "},\"faults\":{" + faults.joined(separator: ",")
                + "},\"perVisitorDrops\":\(state.perVisitorDrops),\"events\":\(state.acceptedEvents)"
                + ",\"visitors\":\(state.directory.visitors.count),\"users\":\(state.directory.users.count)"
                + ",\"resets\":\(state.epoch)}"
        }
    }

    /// Forgets events, requests, counters, visitors and users.
    func reset() {
        state.withLock { state in
            let epoch = state.epoch + 1
            state = State(events: BoundedLog(capacity: capacity), requests: BoundedLog(capacity: capacity))
            state.epoch = epoch
            state.dirty = true
        }
    }

    /// The directory if it changed since the last call (for saving), clearing the mark.
    func takeChangedDirectory() -> Directory? {
        state.withLock { state in
            guard state.dirty else { return nil }
            state.dirty = false
            return state.directory
        }
    }
}

/// Handling of API keys in output.
enum Keys {
    /// `hm_sk_…` plus the key's last four characters, or only `hm_sk_…` for a key shorter than
    /// the prefix and eight more: all inspection output ever shows of a key. The same rule as
    /// the SDK's `SecretKey.masked`, written here again because the dev server shares no code
    /// with the SDK (it checks clients against the contract, not against their own code).
    static func mask(_ key: String) -> String {
        let prefix = "hm_sk_"
        guard key.hasPrefix(prefix), key.count >= prefix.count + 8 else { return prefix + "…" }
        return prefix + "…" + key.suffix(4)
    }
}
#endif
