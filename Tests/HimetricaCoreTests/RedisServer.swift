import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` (Debian's package) on a free loopback port, started by a test and
/// ended when the value goes away. No persistence: a restart forgets everything.
final class RedisServer: @unchecked Sendable {
    let port: Int
    let password: String?
    private var pid: pid_t = 0

    init(password: String? = nil) throws {
        port = Self.freePort()
        self.password = password
        try start()
    }

    deinit { stop() }

    var url: RedisURL { try! RedisURL("redis://" + (password.map { ":\($0)@" } ?? "") + "127.0.0.1:\(port)") }

    func start() throws {
        var arguments = ["redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--loglevel", "warning"]
        if let password { arguments += ["--requirepass", password] }
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // The test's thread may block signals (as the engine's threads do); the server must
        // get SIGTERM, so it starts with none blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let rc = posix_spawnp(&pid, "redis-server", &actions, &attributes, &argv, environ)
        guard rc == 0 else { throw RedisFailure(message: "cannot start redis-server (install Debian's redis-server): \(rc)") }
        let ready = waitUntil(timeout: 10) {
            (try? RedisConnection(url: url, timeoutMilliseconds: 200)) != nil
        }
        guard ready else { throw RedisFailure(message: "redis-server did not answer") }
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        // Bounded: SIGKILL after 5 s.
        if !waitUntil(timeout: 5, { waitpid(pid, &status, WNOHANG) == pid }) {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        pid = 0
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answers.
    func pause() { kill(pid, SIGSTOP) }
    func resume() { kill(pid, SIGCONT) }

    /// A port nothing listens on now (one the kernel just handed out).
    static func freePort() -> Int {
        let (fd, port) = listeningSocket()
        close(fd)
        return port
    }

    /// A TCP socket listening on a free loopback port, and the port.
    static func listeningSocket() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                _ = getsockname(fd, $0, &length)
            }
        }
        listen(fd, 4)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
