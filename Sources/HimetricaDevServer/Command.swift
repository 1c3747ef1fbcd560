#if DevServer  // a package trait (Package.swift)
import ArgumentParser
import Hummingbird
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `himetrica-devserver`: parses the flags and runs the server until SIGINT/SIGTERM.
// ArgumentParser runs an async root command only with this annotation (the package declares no
// Apple platforms); it changes nothing on Linux.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct DevServerCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "himetrica-devserver",
        abstract: "A local Himetrica-compatible Server API with fault injection, for development and tests."
    )

    @Option(help: "Address to bind; /_dev/* and / are served only on loopback.") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free port.") var port = 8787
    @Option(name: .customLong("key"), help: "An accepted X-API-Key (repeatable). Also HIMETRICA_DEV_KEYS=k1,k2.")
    var keys: [String] = []
    @Flag(help: "Unknown visitorIds get 404 Visitor not found instead of being created.") var noAutoCreate = false
    @Option(name: .customLong("limit"), help: "A rate limit, ENDPOINT=COUNT/SECONDS (track, identify, user-id; repeatable).")
    var limitSpecs: [String] = []
    @Flag(help: "No rate limits (then --limit adds limits back).") var noLimits = false
    @Flag(help: "Apply the 10 track events/min per-visitor limit (excess: 202, not recorded).") var perVisitorLimit = false
    @Option(help: "Added latency in ms: fixed (100) or a range (50-150).") var latencyMs: String?
    @Option(help: "Share of requests answered with --error-status (0...1).") var errorRate = 0.0
    @Option(help: "Status of injected errors: 500, 502 or 503.") var errorStatus = 503
    @Option(help: "Share of requests answered 429 with Retry-After (0...1).") var throttleRate = 0.0
    @Option(help: "Retry-After seconds of injected 429s.") var retryAfter = 1
    @Option(help: "Share of connections closed without an answer (0...1).") var dropRate = 0.0
    @Option(help: "Closes every connection without answer for this many seconds from start.") var downFor = 0.0
    @Flag(help: "Accept requests and never answer them.") var hang = false
    @Option(help: "Seed of the random fault choices.") var seed: UInt64 = 1
    @Option(name: .customLong("state"), help: "JSON file holding visitors and users across restarts.") var stateFile: String?
    @Option(help: "Entries kept by /_dev/events and /_dev/requests.") var maxLog = 100_000

    /// A command with the default flags (ArgumentParser fills them in).
    public init() {}

    /// Checks the flags together (ArgumentParser calls it before ``run()``).
    public mutating func validate() throws {
        _ = try options()
    }

    /// The options the flags and environment describe.
    func options() throws -> DevServerOptions {
        var options = DevServerOptions()
        options.host = host
        options.port = port
        let envKeys = (getenv("HIMETRICA_DEV_KEYS").map { String(cString: $0) } ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let configured = keys + envKeys
        if !configured.isEmpty { options.keys = configured }
        options.autoCreateVisitors = !noAutoCreate
        if noLimits { options.limits = [:] }
        for spec in limitSpecs {
            let parts = spec.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let endpoint = Endpoint(rawValue: String(parts[0])), let limit = RateLimit(spec: parts[1])
            else { throw ValidationError("--limit \(spec): expected ENDPOINT=COUNT/SECONDS, e.g. track=20/2") }
            options.limits[endpoint] = limit
        }
        options.perVisitorLimit = perVisitorLimit
        if let latencyMs {
            guard let range = LatencyRange(spec: latencyMs) else {
                throw ValidationError("--latency-ms \(latencyMs): expected MS or MIN-MAX")
            }
            options.faults.latencyMs = range
        }
        for (name, rate) in [("--error-rate", errorRate), ("--throttle-rate", throttleRate), ("--drop-rate", dropRate)]
        where !(0...1).contains(rate) {
            throw ValidationError("\(name) must be between 0 and 1")
        }
        guard [500, 502, 503].contains(errorStatus) else { throw ValidationError("--error-status must be 500, 502 or 503") }
        guard retryAfter >= 0, downFor >= 0, maxLog > 0 else {
            throw ValidationError("--retry-after, --down-for and --max-log must not be negative")
        }
        options.faults.errorRate = errorRate
        options.faults.errorStatus = errorStatus
        options.faults.throttleRate = throttleRate
        options.faults.retryAfter = retryAfter
        options.faults.dropRate = dropRate
        options.faults.downForSeconds = downFor
        options.faults.hang = hang
        options.faults.seed = seed
        options.stateFile = stateFile
        options.maxLogEntries = maxLog
        return options
    }

    /// Runs the server until SIGINT or SIGTERM.
    public func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let options = try options()
        if options.keys == [DevServerOptions.defaultDevKey] {
            writeLine("using the development key: \(DevServerOptions.defaultDevKey)", to: 2)
        } else {
            writeLine("accepting \(options.keys.count) configured key(s): \(options.keys.map(Keys.mask).joined(separator: ", "))", to: 2)
        }
        let host = options.host.contains(":") ? "[\(options.host)]" : options.host
        let app = try buildApplication(options) { port in
            writeLine("listening on http://\(host):\(port)", to: 1)
        }
        try await app.runService()
    }
}

/// Writes `line` and a newline straight to file descriptor `fd` (unbuffered, so a parent process
/// reading the pipe sees it at once).
private func writeLine(_ line: String, to fd: Int32) {
    let bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written > 0 else { return }
        offset += written
    }
}
#endif
