import HimetricaRules
import Testing

@testable import HimetricaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The permit script and the Redis connection against a real redis-server.
@Suite("Shared limit: the permit script on a real Redis", .serialized)
struct PermitScriptTests {
    static let fingerprint = SecretKey.fingerprint("hm_sk_permit_script_test_01")

    /// Runs the lease action once.
    static func lease(
        _ connection: RedisConnection, sha: inout String?, count: Int, windowMilliseconds: Int, want: Int,
        sender: String = "s1", sequence: Int = 1, ages: String = ""
    ) -> Result<PermitScript.Answer, RedisFailure> {
        PermitScript.run(
            on: connection, sha: &sha, keys: PermitScript.keys(fingerprint: fingerprint, endpoint: .track),
            arguments: ["lease", "\(count)", "\(windowMilliseconds)", "\(want)", sender, "3000", ages, "\(sequence)"])
    }

    @Test("never more than COUNT in any window: 4 clients, a long random schedule")
    func neverMoreThanCount() throws {
        let redis = try RedisServer()
        let count = 20, windowMilliseconds = 1000
        let duration: UInt64 = 6 * sec
        // Per grant: when it was asked for and when the answer came (monotonic ns), and how many.
        // A class, not a captured `Mutex`: TSan counts each thread's `withLock` on a captured
        // noncopyable `let` as a modifying access of its box, and reports a race.
        let grants = Recorder<(asked: UInt64, answered: UInt64, granted: Int)>()
        let start = Clock.monotonicNanoseconds()
        let threads = (0..<4).map { client in
            TestThread {
                let connection = try! RedisConnection(url: redis.url, timeoutMilliseconds: 1000)
                var sha: String?
                var rng = SplitMix64(seed: UInt64(client) + 11)
                var sequence = 0
                while Clock.monotonicNanoseconds() - start < duration {
                    usleep(UInt32.random(in: 0...30_000, using: &rng))
                    sequence += 1
                    let asked = Clock.monotonicNanoseconds()
                    let answer = try! Self.lease(
                        connection, sha: &sha, count: count, windowMilliseconds: windowMilliseconds,
                        want: Int.random(in: 1...8, using: &rng), sender: "c\(client)", sequence: sequence
                    ).get()
                    let answered = Clock.monotonicNanoseconds()
                    if answer.granted > 0 { grants.append((asked, answered, answer.granted)) }
                }
            }
        }
        threads.forEach { $0.start() }
        threads.forEach { $0.join() }
        let all = grants.all.sorted { $0.answered < $1.answered }
        // A grant's Redis time lies between asking and the answer: answers that fall within a
        // window shortened by the slowest round trip were granted within one script window.
        let slowest = all.map { $0.answered - $0.asked }.max() ?? 0
        let window = UInt64(windowMilliseconds) * ms - slowest
        var worst = 0
        for (i, grant) in all.enumerated() {
            let inWindow = all[i...].prefix { $0.answered < grant.answered + window }.reduce(0) { $0 + $1.granted }
            worst = max(worst, inWindow)
        }
        let total = all.reduce(0) { $0 + $1.granted }
        #expect(worst <= count, "at most \(count) per window; saw \(worst)")
        // And it is not starving anyone: at least 85% of what 6 windows allow.
        #expect(total >= count * 6 * 85 / 100, "granted \(total)")
        #expect(slowest < 500 * ms)
    }

    @Test("a pause stops every sender's grants until it ends")
    func pause() throws {
        let redis = try RedisServer()
        let connection = try RedisConnection(url: redis.url, timeoutMilliseconds: 500)
        var sha: String?
        let paused = PermitScript.run(
            on: connection, sha: &sha, keys: PermitScript.keys(fingerprint: Self.fingerprint, endpoint: .track),
            arguments: ["pause", "10", "1000", "0", "s1", "3000", "300", "1"])
        #expect(try paused.get().pausedMilliseconds == 300)
        let during = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 3, sender: "s2").get()
        #expect(during.granted == 0 && during.pausedMilliseconds > 0 && during.pausedMilliseconds <= 300)
        usleep(350_000)
        #expect(try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 3).get().granted == 3)
    }

    @Test("requests sent without Redis count where they fell in the window; senders are counted")
    func reconciles() throws {
        let redis = try RedisServer()
        let connection = try RedisConnection(url: redis.url, timeoutMilliseconds: 500)
        var sha: String?
        let first = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 0, ages: "100,200,900,950").get()
        #expect(first.granted == 0 && first.senders == 1)
        let answer = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 8, sender: "s2").get()
        #expect(answer.granted == 6 && answer.senders == 2)
        // 8 asked, 6 granted: 8 are free again when the 8th oldest (the sends 100 and 200 ms
        // ago are 3rd and 4th; s2's six come after) leaves, about a window from now.
        #expect(answer.retryMilliseconds > 900 && answer.retryMilliseconds <= 1001)
        // Asking for 1 at once: free when the oldest (950 ms ago) leaves, within about 50 ms.
        let one = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 1, sender: "s3").get()
        #expect(one.granted == 0 && one.retryMilliseconds > 0 && one.retryMilliseconds <= 60)
    }

    @Test("a grant that fills the window says when a batch is free again; one that does not, 0")
    func fullWindowRetry() throws {
        let redis = try RedisServer()
        let connection = try RedisConnection(url: redis.url, timeoutMilliseconds: 500)
        var sha: String?
        let some = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 4).get()
        #expect(some.granted == 4 && some.retryMilliseconds == 0)
        let rest = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 6, sequence: 2).get()
        // All 6 granted, and the window is full: 6 are free when the 6th oldest leaves.
        #expect(rest.granted == 6 && rest.retryMilliseconds > 900 && rest.retryMilliseconds <= 1001)
        let heartbeat = try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 0, sequence: 3).get()
        #expect(heartbeat.granted == 0 && heartbeat.retryMilliseconds == 0, "a heartbeat asks for nothing: no retry")
    }

    @Test("NOSCRIPT after SCRIPT FLUSH falls back to EVAL and reloads")
    func noscript() throws {
        let redis = try RedisServer()
        let connection = try RedisConnection(url: redis.url, timeoutMilliseconds: 500)
        var sha: String?
        #expect(try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 1).get().granted == 1)
        let loaded = try #require(sha)
        #expect(connection.command(["SCRIPT", "FLUSH"]) == .status("OK"))
        #expect(try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 1).get().granted == 1)
        #expect(sha == loaded)
        #expect(try Self.lease(connection, sha: &sha, count: 10, windowMilliseconds: 1000, want: 1, sequence: 2).get().granted == 1)
        let permits = PermitScript.keys(fingerprint: Self.fingerprint, endpoint: .track)[0]
        #expect(connection.command(["ZCARD", permits]) == .integer(2), "both sequences' grants are in the log")
    }

    @Test("keys carry the fingerprint in a hash tag, never the secret key")
    func keys() {
        let keys = PermitScript.keys(fingerprint: SecretKey.fingerprint("hm_sk_abcdefgh1234"), endpoint: .userId)
        #expect(keys.allSatisfy { $0.hasPrefix("himetrica:{fp_") && !$0.contains("hm_sk_") })
        #expect(keys[0].hasSuffix(":user-id:permits") && keys[2].hasSuffix(":senders"))
    }

    @Test("a wrong password fails at once, says so, and never shows it")
    func wrongPassword() throws {
        let redis = try RedisServer(password: "right-password-0042")
        var url = redis.url
        url.password = "wrong-password-0042"
        #expect(throws: RedisFailure.self) { try RedisConnection(url: url, timeoutMilliseconds: 500) }
        do { _ = try RedisConnection(url: url, timeoutMilliseconds: 500) } catch {
            #expect(error.authentication)
            #expect(error.message.contains("refused the credentials"))
            #expect(!error.message.contains("password-0042"))
        }
        url.password = nil
        do { _ = try RedisConnection(url: url, timeoutMilliseconds: 500) } catch {
            #expect(error.authentication, "no password where one is needed: NOAUTH")
        }
    }

    @Test("a hung Redis (SIGSTOP) costs at most the timeout; refused and non-Redis servers fail clearly")
    func hungAndWrong() throws {
        let redis = try RedisServer()
        let connection = try RedisConnection(url: redis.url, timeoutMilliseconds: 200)
        redis.pause()
        defer { redis.resume() }
        let (reply, seconds) = timed { connection.command(["PING"]) }
        guard case .failure = reply else { Issue.record("expected a failure, got \(reply)"); return }
        #expect(seconds < 0.6)
        let (_, connectSeconds) = timed { try? RedisConnection(url: redis.url, timeoutMilliseconds: 200) }
        #expect(connectSeconds < 0.6)
        redis.resume()

        // Nothing listening.
        let closed = try RedisURL("redis://127.0.0.1:\(RedisServer.freePort())")
        #expect(throws: RedisFailure.self) { try RedisConnection(url: closed, timeoutMilliseconds: 200) }
        // Something that is not Redis: answers an HTTP error and closes.
        let (port, server) = Self.notRedis()
        defer { server.join() }
        let web = try RedisURL("redis://127.0.0.1:\(port)")
        #expect(throws: RedisFailure.self) { try RedisConnection(url: web, timeoutMilliseconds: 300) }
        let (other, second) = Self.notRedis()
        defer { second.join() }
        do { _ = try RedisConnection(url: try! RedisURL("redis://127.0.0.1:\(other)"), timeoutMilliseconds: 300) } catch {
            #expect(error.message.contains("not answering like a Redis server"))
        }
    }

    /// A one-shot TCP server that answers like a web server.
    static func notRedis() -> (Int, TestThread) {
        let (fd, port) = RedisServer.listeningSocket()
        let thread = TestThread {
            let client = accept(fd, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 256)
            _ = read(client, &buffer, buffer.count)
            let answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
            _ = answer.withCString { write(client, $0, strlen($0)) }
            close(client)
            close(fd)
        }
        thread.start()
        return (port, thread)
    }
}
