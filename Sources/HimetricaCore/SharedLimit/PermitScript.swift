import HimetricaRules

/// The one Lua script every sender runs to take permits from Redis, and the keys it uses.
///
/// The rule it keeps is the server's: never more than `count` permits granted in any window
/// of `window` ms, counted with an exact log (a sorted set of grant times on Redis's own
/// clock, `TIME`, in microseconds), not GCRA: GCRA alone lets a full burst through right after a steady stream,
/// which a sliding-window server answers with 429s. All keys of one secret key share the hash
/// tag `{fp_…}` (``SecretKey/fingerprint(_:)``), so the script runs on Redis Cluster too, and
/// no key holds the secret key itself.
///
/// Actions (`ARGV[1]`):
/// - `lease`: heartbeat (the sender stays in the live-sender set for `ARGV[6]` ms), record
///   the requests the sender sent on its own while Redis was away (`ARGV[7]`: their ages in
///   ms, comma-separated), so they count where they fall in the window, then grant up to
///   `ARGV[4]` permits unless the endpoint is paused. Answers
///   `{granted, retry_ms, live_senders, paused_ms}`: when the window is full (fewer than
///   asked were granted, or this grant took the last permits), `retry_ms` is when as many as
///   were asked for will be free again; else 0.
/// - `pause`: every sender of this key stops sending to the endpoint for `ARGV[7]` ms (a 429
///   or `Retry-After` one of them saw). Answers `{0, 0, 0, paused_ms}`.
enum PermitScript {
    static let source = """
        if redis.replicate_commands then pcall(redis.replicate_commands) end
        -- Times are Redis's clock in microseconds (scores and the pause), so that a grant is
        -- forgotten only once a whole window has passed since it, not up to 1 ms earlier.
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local count, windowMs = tonumber(ARGV[2]), tonumber(ARGV[3])
        local window = windowMs * 1000
        local function ms(us) return math.ceil(us / 1000) end
        if ARGV[1] == 'pause' then
          local pauseMs = tonumber(ARGV[7])
          local current = tonumber(redis.call('GET', KEYS[2]) or '0')
          if now + pauseMs * 1000 > current then redis.call('SET', KEYS[2], now + pauseMs * 1000, 'PX', pauseMs) end
          return {0, 0, 0, pauseMs}
        end
        local ttl = tonumber(ARGV[6])
        redis.call('ZADD', KEYS[3], now + ttl * 1000, ARGV[5])
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        redis.call('PEXPIRE', KEYS[3], ttl)
        local senders = redis.call('ZCARD', KEYS[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        local member = ARGV[5] .. ':' .. ARGV[8] .. ':'
        local n = 0
        for age in string.gmatch(ARGV[7], '%d+') do
          n = n + 1
          redis.call('ZADD', KEYS[1], now - tonumber(age) * 1000, member .. 'u' .. n)
        end
        if n > 0 then redis.call('PEXPIRE', KEYS[1], windowMs) end
        local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
        if pause > now then return {0, ms(pause - now), senders, ms(pause - now)} end
        local want = tonumber(ARGV[4])
        local held = redis.call('ZCARD', KEYS[1])
        local grant = math.max(0, math.min(want, count - held))
        for i = 1, grant do redis.call('ZADD', KEYS[1], now, member .. i) end
        if grant > 0 then redis.call('PEXPIRE', KEYS[1], windowMs) end
        local retry = 0
        if want > 0 and held + grant >= count then
          -- The window is full (also when this grant just filled it): when a whole batch
          -- (want) will be free again. Asking before would be answered 0; asking as each
          -- single grant expires would keep the grants one by one, window after window.
          local k = math.min(want, count) - 1
          local freeing = redis.call('ZRANGE', KEYS[1], k, k, 'WITHSCORES')
          if freeing[2] then retry = math.max(1, ms(tonumber(freeing[2]) + window - now) + 1) end
        end
        return {grant, retry, senders, 0}
        """

    /// The keys of `endpoint`'s permits for the key with `fingerprint`: the grant log, the
    /// pause, and the live senders (one set per key).
    static func keys(fingerprint: String, endpoint: Endpoint) -> [String] {
        let prefix = "himetrica:{\(fingerprint)}:"
        return [prefix + endpoint.name + ":permits", prefix + endpoint.name + ":pause", prefix + "senders"]
    }

    /// What one run of the script answered.
    struct Answer: Equatable {
        var granted: Int
        var retryMilliseconds: Int
        var senders: Int
        var pausedMilliseconds: Int
    }

    /// Runs the script on `connection` (EVALSHA with the digest `sha` once loaded, EVAL when
    /// Redis answers NOSCRIPT, e.g. after a restart or SCRIPT FLUSH).
    static func run(
        on connection: RedisConnection, sha: inout String?, keys: [String], arguments: [String]
    ) -> Result<Answer, RedisFailure> {
        let tail = [String(keys.count)] + keys + arguments
        var reply = RedisConnection.Reply.error("NOSCRIPT")
        if let digest = sha { reply = connection.command(["EVALSHA", digest] + tail) }
        if case .error(let text) = reply, text.hasPrefix("NOSCRIPT") {
            reply = connection.command(["EVAL", source] + tail)
            if case .integers = reply, case .string(let digest) = connection.command(["SCRIPT", "LOAD", source]) {
                sha = digest
            }
        }
        switch reply {
        case .integers(let values) where values.count == 4:
            return .success(Answer(
                granted: Int(values[0]), retryMilliseconds: Int(values[1]), senders: Int(values[2]),
                pausedMilliseconds: Int(values[3])))
        case .failure(let failure): return .failure(failure)
        case .error(let text): return .failure(RedisFailure(message: "the permit script failed: \(text)"))
        default: return .failure(RedisFailure(message: "the permit script gave an unexpected answer"))
        }
    }
}
