import HimetricaRules
import Testing

@testable import HimetricaCore

/// The field of the `ValidationError` that `body` throws, or nil when it does not throw.
private func failingField(_ body: () throws(ValidationError) -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return error.field
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test("the defaults are valid and as documented")
    func defaults() throws {
        let configuration = Configuration()
        try configuration.validate()
        #expect(configuration.endpoint == "https://app.himetrica.com/api/v1")
        #expect(configuration.queueCapacity == 10_000)
        #expect(configuration.maxInFlight == 8)
        #expect(configuration.rateLimits[.track] == RateLimit(count: 1000, window: .seconds(60)))
        #expect(configuration.rateLimits[.identify] == RateLimit(count: 500, window: .seconds(60)))
        #expect(configuration.rateLimits[.userId] == RateLimit(count: 100, window: .seconds(60)))
        #expect(configuration.maxAttempts == 10)
        #expect(configuration.maxRetryAge == .seconds(600))
        #expect(configuration.allowInsecureHTTP == false)
    }

    @Test("every option can be set by name")
    func everyOption() throws {
        var c = Configuration()
        try c.set(option: "endpoint", value: "http://127.0.0.1:8080/api/v1")
        try c.set(option: "queue_capacity", value: "50")
        try c.set(option: "max_in_flight", value: "3")
        try c.set(option: "max_attempts", value: "4")
        try c.set(option: "max_retry_age", value: "30")
        try c.set(option: "retry_base_delay", value: "0.5")
        try c.set(option: "retry_max_delay", value: "5")
        try c.set(option: "connect_timeout", value: "2")
        try c.set(option: "request_timeout", value: " 7 ")
        try c.set(option: "exit_flush_timeout", value: "1.5")
        try c.set(option: "user_id_cache_capacity", value: "0")
        try c.set(option: "not_found_cache_seconds", value: "3")
        try c.set(option: "max_response_bytes", value: "4096")
        try c.set(option: "ca_file", value: "/etc/ssl/ca.pem")
        try c.set(option: "allow_insecure_http", value: "true")
        try c.set(option: "rate_limit_track", value: "20/2")
        try c.set(option: "rate_limit_identify", value: "none")
        try c.set(option: "rate_limit_user_id", value: "10/1.5")
        #expect(c.endpoint == "http://127.0.0.1:8080/api/v1")
        #expect(c.queueCapacity == 50)
        #expect(c.maxInFlight == 3)
        #expect(c.maxAttempts == 4)
        #expect(c.maxRetryAge == .seconds(30))
        #expect(c.retryBaseDelay == .seconds(0.5))
        #expect(c.retryMaxDelay == .seconds(5))
        #expect(c.connectTimeout == .seconds(2))
        #expect(c.requestTimeout == .seconds(7))
        #expect(c.exitFlushTimeout == .seconds(1.5))
        #expect(c.userIdCacheCapacity == 0)
        #expect(c.notFoundCacheDuration == .seconds(3))
        #expect(c.maxResponseBytes == 4096)
        #expect(c.caFile == "/etc/ssl/ca.pem")
        #expect(c.allowInsecureHTTP)
        #expect(c.rateLimits[.track] == RateLimit(count: 20, window: .seconds(2)))
        #expect((c.rateLimits[.identify] ?? nil) == nil)
        #expect(c.rateLimits[.userId] == RateLimit(count: 10, window: .seconds(1.5)))
        try c.set(option: "allow_insecure_http", value: "0")
        #expect(!c.allowInsecureHTTP)
        try c.set(option: "allow_insecure_http", value: "1")
        #expect(c.allowInsecureHTTP)
        try c.set(option: "allow_insecure_http", value: "false")
        #expect(!c.allowInsecureHTTP)
        try c.set(option: "ca_file", value: "")
        #expect(c.caFile == nil)
    }

    @Test(
        "bad values name the option",
        arguments: [
            ("queue_capacity", "0"), ("queue_capacity", "ten"), ("queue_capacity", "1.5"), ("queue_capacity", "2000000"),
            ("max_in_flight", "0"), ("max_in_flight", "257"), ("max_attempts", "0"), ("max_attempts", "101"),
            ("max_retry_age", "-1"), ("max_retry_age", "nan"), ("max_retry_age", "inf"), ("retry_base_delay", "x"),
            ("retry_max_delay", "90000"), ("connect_timeout", "0"), ("request_timeout", "0"),
            ("exit_flush_timeout", "-0.5"), ("user_id_cache_capacity", "-1"), ("not_found_cache_seconds", "abc"),
            ("max_response_bytes", "10"), ("max_response_bytes", "big"), ("allow_insecure_http", "yes"),
            ("rate_limit_track", "0/60"), ("rate_limit_track", "1000"), ("rate_limit_identify", "5/0"),
            ("rate_limit_user_id", "a/b"), ("rate_limit_user_id", "5/-1"), ("no_such_option", "1"),
        ])
    func badValue(option: String, value: String) {
        var c = Configuration()
        let field = failingField { () throws(ValidationError) in try c.set(option: option, value: value) }
        #expect(field == option, "\(option)=\(value)")
    }

    @Test("a bad http endpoint is refused with the endpoint named")
    func badEndpoint() {
        var c = Configuration()
        #expect(failingField { () throws(ValidationError) in try c.set(option: "endpoint", value: "http://example.com") } == "endpoint")
        #expect(failingField { () throws(ValidationError) in try c.set(option: "endpoint", value: "not a url") } == "endpoint")
    }

    @Test("a refused value leaves the configuration as it was, so later options still work")
    func failedSetChangesNothing() throws {
        var c = Configuration()
        #expect(failingField { () throws(ValidationError) in try c.set(option: "queue_capacity", value: "0") } == "queue_capacity")
        #expect(c.queueCapacity == 10_000)
        #expect(failingField { () throws(ValidationError) in try c.set(option: "endpoint", value: "http://example.com") } == "endpoint")
        #expect(c.endpoint == "https://app.himetrica.com/api/v1")
        try c.set(option: "max_in_flight", value: "4")
        #expect(c.maxInFlight == 4)
        try c.validate()
    }

    @Test("validate names the field that is out of range")
    func validate() {
        func field(_ modify: (inout Configuration) -> Void) -> String? {
            var c = Configuration()
            modify(&c)
            return failingField { () throws(ValidationError) in try c.validate() }
        }
        #expect(field { _ in } == nil)
        #expect(field { $0.queueCapacity = 0 } == "queue_capacity")
        #expect(field { $0.maxInFlight = 0 } == "max_in_flight")
        #expect(field { $0.maxAttempts = 0 } == "max_attempts")
        #expect(field { $0.maxRetryAge = .seconds(86401) } == "max_retry_age")
        #expect(field { $0.retryBaseDelay = .seconds(-1) } == "retry_base_delay")
        #expect(field { $0.retryMaxDelay = .seconds(1e12) } == "retry_max_delay")
        #expect(field { $0.requestTimeout = .seconds(0) } == "request_timeout")
        #expect(field { $0.connectTimeout = .seconds(0) } == "connect_timeout")
        #expect(field { $0.exitFlushTimeout = .seconds(100_000) } == "exit_flush_timeout")
        #expect(field { $0.notFoundCacheDuration = .milliseconds(-1) } == "not_found_cache_seconds")
        #expect(field { $0.userIdCacheCapacity = -1 } == "user_id_cache_capacity")
        #expect(field { $0.maxResponseBytes = 0 } == "max_response_bytes")
        #expect(field { $0.rateLimits[.track] = RateLimit(count: 0, window: .seconds(60)) } == "rate_limit_track")
        #expect(field { $0.rateLimits[.identify] = RateLimit(count: 1, window: .seconds(0)) } == "rate_limit_identify")
        #expect(field { $0.rateLimits[.userId] = RateLimit(count: 1, window: .seconds(-1)) } == "rate_limit_user_id")
        #expect(field { $0.rateLimits[.track] = .some(nil) } == nil)
        #expect(field { $0.endpoint = "http://example.com" } == "endpoint")
        #expect(field { $0.endpoint = "http://example.com"; $0.allowInsecureHTTP = true } == nil)
    }
}

@Suite("Base URL")
struct BaseURLTests {
    @Test(
        "accepted",
        arguments: [
            ("https://app.himetrica.com/api/v1", "https://app.himetrica.com/api/v1"),
            ("https://app.himetrica.com/api/v1/", "https://app.himetrica.com/api/v1"),
            ("HTTPS://example.com", "HTTPS://example.com"),
            ("https://example.com:8443", "https://example.com:8443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.0.0.1/api/v1/", "http://127.0.0.1/api/v1"),
            ("http://127.1.2.3:9", "http://127.1.2.3:9"),
            ("http://localhost:3000/api", "http://localhost:3000/api"),
            ("http://LocalHost", "http://LocalHost"),
            ("http://[::1]:8080/api", "http://[::1]:8080/api"),
            ("http://[::1]", "http://[::1]"),
        ])
    func accepted(url: String, text: String) throws {
        #expect(try BaseURL(url, allowInsecureHTTP: false).text == text)
    }

    @Test(
        "plain http elsewhere is refused unless allowed",
        arguments: [
            "http://example.com", "http://10.0.0.1:8080", "http://127.0.0.1.evil.com",
            "http://localhost.evil.com", "http://127.0.0.1@evil.com", "http://[::2]:80", "http://128.0.0.1",
            "http://127.0.0.256",
        ])
    func insecure(url: String) throws {
        #expect(failingField { () throws(ValidationError) in _ = try BaseURL(url, allowInsecureHTTP: false) } == "endpoint")
        #expect(try BaseURL(url, allowInsecureHTTP: true).text == url)
    }

    @Test(
        "garbage is refused",
        arguments: [
            "", "app.himetrica.com", "ftp://example.com", "https://", "https:///api", "https://exa mple.com",
            "https://example.com/?q=1", "https://example.com/#x", "https://example.com/\u{7F}", "https://exämple.com",
            "javascript:alert(1)", "http:/127.0.0.1",
        ])
    func garbage(url: String) {
        #expect(failingField { () throws(ValidationError) in _ = try BaseURL(url, allowInsecureHTTP: true) } == "endpoint")
    }
}
