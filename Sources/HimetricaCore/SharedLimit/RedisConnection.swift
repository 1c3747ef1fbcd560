import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a Redis command gave no usable answer. The text never holds the password.
struct RedisFailure: Error, Sendable, Equatable {
    /// What went wrong, for the log.
    var message: String
    /// The server refused the credentials: retrying will not help until they change.
    var authentication = false
}

/// One connection to Redis over hiredis, with every call bounded by the timeout given at
/// connection. Not thread-safe: the shared limit's own thread is its only user.
final class RedisConnection {
    private let handle: OpaquePointer

    /// Connects, authenticates and selects the database. Fails (never hangs longer than
    /// `timeoutMilliseconds` per step) on a refused connection, a wrong password or a server
    /// that does not speak Redis.
    init(url: RedisURL, timeoutMilliseconds: Int) throws(RedisFailure) {
        var error = [CChar](repeating: 0, count: 256)
        let gate = ForkGate.enterBlockingCall()
        let connected = chiredis_connect(url.host, Int32(url.port), Int32(timeoutMilliseconds), &error, error.count)
        ForkGate.exitCallout(gate)
        guard let handle = connected else {
            throw RedisFailure(message: "cannot connect to \(url.redacted): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        self.handle = handle
        if let password = url.password {
            let auth = url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            switch command(auth) {
            case .status: break
            case .error(let text):
                // Redis's own words (WRONGPASS, "invalid password", …) never contain the password.
                throw RedisFailure(message: "\(url.redacted) refused the credentials: \(text)", authentication: true)
            case .failure(let failure):
                throw RedisFailure(message: "\(url.redacted): \(failure.message)")
            default:
                throw RedisFailure(message: "\(url.redacted) did not answer AUTH like a Redis server")
            }
        }
        // PING proves it speaks Redis (and, without a password, that none is needed).
        switch command(["PING"]) {
        case .status(let text) where text == "PONG": break
        case .error(let text):
            throw RedisFailure(message: "\(url.redacted) refused PING: \(text)", authentication: text.hasPrefix("NOAUTH"))
        case .failure(let failure):
            throw RedisFailure(message: "\(url.redacted) is not answering like a Redis server: \(failure.message)")
        default:
            throw RedisFailure(message: "\(url.redacted) is not answering like a Redis server")
        }
        if url.database != 0 {
            guard case .status = command(["SELECT", String(url.database)]) else {
                throw RedisFailure(message: "\(url.redacted) refused SELECT \(url.database)")
            }
        }
    }

    deinit { chiredis_free(handle) }

    /// In a child after `fork()`: closes the child's copy of the socket, sending nothing, so
    /// the child never holds (let alone uses) its parent's connection. Nothing else of the
    /// connection is touched; it is unusable afterwards.
    func abandonAfterFork() { chiredis_abandon_after_fork(handle) }

    /// One answer, as the toolkit's commands get them.
    enum Reply: Equatable {
        case status(String)
        case error(String)
        case string(String)
        case integer(Int64)
        case integers([Int64])
        case nil_
        /// No answer: the connection is gone (timeout, reset, protocol error).
        case failure(RedisFailure)
    }

    /// Sends one command and waits (at most the timeout) for its answer. After `.failure`
    /// the connection is unusable.
    func command(_ arguments: [String]) -> Reply {
        var reply = chiredis_reply()
        var lengths = arguments.map(\.utf8.count)
        // hiredis copies the arguments into its output buffer before returning.
        let copies = arguments.map { strdup($0)! }
        defer { copies.forEach { free($0) } }
        var argv = copies.map { UnsafePointer<CChar>?($0) }
        // Inside hiredis the thread runs no Swift code and holds no lock of ours: a fork may
        // go ahead (see ForkGate); back in Swift it parks while one is in progress.
        let gate = ForkGate.enterBlockingCall()
        chiredis_command(handle, Int32(arguments.count), &argv, &lengths, &reply)
        ForkGate.exitCallout(gate)
        let text = withUnsafeBytes(of: reply.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch reply.kind {
        case CHIREDIS_STATUS: return .status(text)
        case CHIREDIS_ERROR: return .error(text)
        case CHIREDIS_STRING: return .string(text)
        case CHIREDIS_INTEGER: return .integer(reply.integer)
        case CHIREDIS_ARRAY:
            let count = min(Int(reply.integer), Int(CHIREDIS_MAX_INTEGERS))
            let all = withUnsafeBytes(of: reply.integers) { Array($0.bindMemory(to: Int64.self)) }
            return .integers(Array(all.prefix(count)))
        case CHIREDIS_NIL: return .nil_
        default: return .failure(RedisFailure(message: text.isEmpty ? "no answer" : text))
        }
    }
}
