#if CLI  // a package trait (Package.swift)
import ArgumentParser
import Foundation
import Himetrica
import HimetricaCore  // the engine's Version and the text forms of identities and sessions
import HimetricaRules

#if canImport(Glibc)
import Glibc
#endif

/// `himetrica`: send events, identify visitors and resolve user ids from the shell.
// ArgumentParser runs an async root command only with this annotation (the package declares no
// Apple platforms); it changes nothing on Linux.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
@main
struct HimetricaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "himetrica",
        abstract: "Send events to Himetrica's Server API from the shell.",
        discussion: """
            The secret key comes from --secret-key or HIMETRICA_SECRET_KEY, the base URL from \
            --endpoint or HIMETRICA_ENDPOINT (default https://app.himetrica.com/api/v1). Each \
            command waits for delivery. Exit status: 0 delivered, 1 refused by the server, \
            2 invalid input, 3 not delivered in time.
            """,
        version: Version.string,
        subcommands: [Track.self, Identify.self, UserId.self, Spool.self])
}

/// Options every subcommand takes.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Secret key (hm_sk_...). Default: $HIMETRICA_SECRET_KEY.")
    var secretKey: String?

    @Option(help: "API base URL. Default: $HIMETRICA_ENDPOINT or https://app.himetrica.com/api/v1.")
    var endpoint: String?

    @Option(help: "Seconds to wait for delivery.")
    var timeout: Double = 30

    @Option(help: "A spool directory: the call is committed there and delivered even if this command ends first. Default: $HIMETRICA_SPOOL.")
    var spool: String?

    @Flag(help: "Print the outcome as JSON.")
    var json = false
}

/// Who a call is about.
struct IdentityOptions: ParsableArguments {
    @Option(help: "Himetrica user id (hm_usr_...).")
    var userId: String?

    @Option(help: "An email the visitor was identified with.")
    var email: String?

    @Option(help: "Browser visitor id.")
    var visitorId: String?

    func identity() throws(HimetricaValidationError) -> Identity {
        try Identity.exactlyOne(userId: userId, email: email, visitorId: visitorId)
    }
}

struct Track: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Track a custom event.")

    @Argument(help: "Event name (letters, digits, '_' and '-').")
    var event: String

    @OptionGroup var who: IdentityOptions

    @Option(name: .customLong("prop"), help: "A property as key=value (repeatable; value as JSON if it parses, else text).")
    var props: [String] = []

    @Option(help: "Properties as a JSON object.")
    var properties: String?

    @Option(help: "\"latest\" or \"new\".")
    var session: String?

    @Option(help: "ISO 8601 timestamp (default: now).")
    var timestamp: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Runner(connection).deliver(.track) { client throws(HimetricaError) in
            let identity = try invalidAsError { () throws(HimetricaValidationError) in try who.identity() }
            let parsedSession = try invalidAsError { () throws(HimetricaValidationError) -> Session? in
                guard let session else { return nil }
                return try Session.parse(session)
            }
            try invalidAsError { () throws(HimetricaValidationError) -> Void in
                if let timestamp { try Timestamp.validate(timestamp) }
            }
            let date = timestamp.flatMap { ISO8601DateFormatter.withFractions.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }
            if let properties = try mergedProperties() {
                try client.track(event, identity: identity, propertiesJSON: properties, timestamp: date, session: parsedSession)
            } else {
                try client.track(event, identity: identity, timestamp: date, session: parsedSession)
            }
        }
    }

    /// `--properties` with each `--prop` added, as JSON text; nil when neither is given.
    private func mergedProperties() throws(HimetricaError) -> String? {
        guard properties != nil || !props.isEmpty else { return nil }
        var members: [String] = []
        if let properties {
            let compact = try invalidAsError { () throws(HimetricaValidationError) in
                try JSONText.compactObject(properties, field: "properties")
            }
            let inner = String(decoding: compact.dropFirst().dropLast(), as: UTF8.self)
            if !inner.isEmpty { members.append(inner) }
        }
        for prop in props {
            guard let equals = prop.firstIndex(of: "=") else {
                throw .invalid(HimetricaValidationError(field: "--prop", rule: "must be key=value"))
            }
            var writer = JSONWriter()
            writer.string(String(prop[..<equals]))
            writer.raw(":")
            let value = String(prop[prop.index(after: equals)...])
            if let scalar = try? JSONText.compactObject("{\"v\":\(value)}", field: "--prop"),
                !value.hasPrefix("{"), !value.hasPrefix("[")
            {
                writer.raw(Array(scalar.dropFirst(5).dropLast()))
            } else {
                writer.string(value)
            }
            members.append(String(decoding: writer.bytes, as: UTF8.self))
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}

struct Identify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Update a visitor's traits.")

    @OptionGroup var who: IdentityOptions

    @Option(help: "Traits as a JSON object, e.g. '{\"name\":\"Jane\",\"email\":\"jane@example.com\"}'.")
    var traits: String

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Runner(connection).deliver(.identify) { client throws(HimetricaError) in
            let identity = try invalidAsError { () throws(HimetricaValidationError) in try who.identity() }
            try client.identify(identity, traitsJSON: traits)
        }
    }
}

struct UserId: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-id", abstract: "Resolve a browser visitor id to Himetrica's user id.")

    @Argument(help: "The browser visitor id.")
    var visitor: String

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let runner = Runner(connection)
        let client = try runner.client()
        do {
            let userId = try await client.userId(forVisitor: visitor, timeout: .milliseconds(Int64(connection.timeout * 1000)))
            runner.print(ok: true, text: userId, json: ["userId": .string(userId)])
        } catch {
            runner.fail(error)
        }
    }
}

/// Creates the client, runs one call, waits for its delivery and exits with its outcome.
struct Runner {
    let options: ConnectionOptions
    private let outcome = OutcomeBox()

    init(_ options: ConnectionOptions) { self.options = options }

    func client() throws -> HimetricaClient {
        let environment = ProcessInfo.processInfo.environment
        guard let key = options.secretKey ?? environment["HIMETRICA_SECRET_KEY"] else {
            fail(HimetricaError.invalid(HimetricaValidationError(field: "secretKey", rule: "is required (--secret-key or HIMETRICA_SECRET_KEY)")))
        }
        var configuration = Configuration()
        configuration.surface = "cli"
        if let endpoint = options.endpoint ?? environment["HIMETRICA_ENDPOINT"] { configuration.endpoint = endpoint }
        if let spool = options.spool ?? environment["HIMETRICA_SPOOL"], !spool.isEmpty { configuration.spool = spool }
        configuration.onDelivery = { [outcome] in outcome.set($0) }
        do {
            return try HimetricaClient(secretKey: key, configuration: configuration)
        } catch {
            fail(HimetricaError.invalid(error))
        }
    }

    func deliver(_ endpoint: Endpoint, _ call: (HimetricaClient) throws(HimetricaError) -> Void) async throws {
        let client = try client()
        do throws(HimetricaError) {
            try call(client)
        } catch {
            fail(error)
        }
        let result = await client.flush(timeout: .milliseconds(Int64(options.timeout * 1000)))
        guard result.completed else { fail(HimetricaError.timeout) }
        guard let delivery = outcome.value else {
            // With a spool, another process may have been the sender: its outcome is reported there.
            print(ok: true, text: "sent from the spool by another process", json: ["endpoint": .string(endpoint.name), "outcome": .string("sent_by_another_process")])
            return
        }
        let summary: [String: JSONValue] = [
            "endpoint": .string(delivery.endpoint.name), "outcome": .string("\(delivery.outcome)"),
            "status": .int(Int64(delivery.status)), "attempts": .int(Int64(delivery.attempts)),
        ]
        if delivery.outcome == .delivered {
            print(ok: true, text: "delivered \(endpoint.name) (HTTP \(delivery.status))", json: summary)
        } else {
            var failed = summary
            failed["error"] = .string(delivery.message ?? "")
            print(ok: false, text: "not delivered: \(delivery.outcome) \(delivery.message ?? "")", json: failed)
            exit(delivery.outcome == .rejected ? 1 : 3)
        }
    }

    func print(ok: Bool, text: String, json: [String: JSONValue]) {
        var object = json
        object["ok"] = .bool(ok)
        let line = options.json
            ? String(decoding: (try? JSONWriter.object(.object(object), field: "output")) ?? [], as: UTF8.self)
            : text
        Swift.print(line)
    }

    func fail(_ error: Error) -> Never {
        let status: Int32
        switch error as? HimetricaError {
        case .invalid?: status = 2
        case .rejected?, .notFound?, .unauthorized?: status = 1
        default: status = 3
        }
        let message = "\(error)"
        if options.json {
            print(ok: false, text: message, json: ["error": .string(message)])
        } else {
            FileHandle.standardError.write(Data("himetrica: \(message)\n".utf8))
        }
        exit(status)
    }
}

/// Turns a broken rule into the CLI's error.
func invalidAsError<T>(_ body: () throws(HimetricaValidationError) -> T) throws(HimetricaError) -> T {
    do throws(HimetricaValidationError) {
        return try body()
    } catch {
        throw .invalid(error)
    }
}

/// The delivery the callback saw.
final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var delivery: Delivery?

    var value: Delivery? { lock.withLock { delivery } }
    func set(_ delivery: Delivery) { lock.withLock { self.delivery = delivery } }
}

extension ISO8601DateFormatter {
    /// A formatter that accepts fractional seconds.
    static var withFractions: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}

/// `himetrica spool`: look into a spool, or send what waits in it.
struct Spool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look into a spool directory or send what waits in it.",
        subcommands: [SpoolStatusCommand.self, SpoolDrain.self])
}

struct SpoolStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Requests waiting per endpoint and key fingerprint, the oldest one's age, bytes used, and the sending process. Safe while applications use the spool.")

    @Argument(help: "The spool directory.")
    var path: String

    @Flag(help: "Print the status as one JSON object.")
    var json = false

    func run() async throws {
        let status: SpoolStatus
        do {
            status = try SpoolStatus(path: path)
        } catch {
            FileHandle.standardError.write(Data("himetrica: \(error)\n".utf8))
            Glibc.exit(2)
        }
        if json {
            let waiting: [JSONValue] = status.waiting.map {
                .object([
                    "endpoint": .string($0.endpoint.name), "fingerprint": .string($0.fingerprint),
                    "count": .int(Int64($0.count)), "oldest_age_seconds": .double($0.oldestAgeSeconds),
                ])
            }
            let object: JSONValue = .object([
                "path": .string(status.path), "waiting": .array(waiting), "bytes": .int(status.bytes),
                "sender_pid": status.senderPid.map { .int(Int64($0)) } ?? .null,
            ])
            Swift.print(String(decoding: (try? JSONWriter.object(object, field: "output")) ?? [], as: UTF8.self))
            return
        }
        Swift.print("spool \(status.path): \(status.bytes) bytes, sender: \(status.senderPid.map { "pid \($0)" } ?? "none")")
        if status.waiting.isEmpty { Swift.print("nothing waiting") }
        for row in status.waiting {
            Swift.print("\(row.endpoint.name)\t\(row.fingerprint)\t\(row.count) waiting\toldest \(String(format: "%.1f", row.oldestAgeSeconds)) s")
        }
    }
}

struct SpoolDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Send what waits in the spool for this key, then exit by outcome: 0 all delivered, 1 some refused, 3 some not delivered in time. Safe while applications use the spool (one process sends at a time).")

    @Argument(help: "The spool directory.")
    var path: String

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        var options = connection
        options.spool = path
        let runner = Runner(options)
        let client = try runner.client()
        let key = options.secretKey ?? ProcessInfo.processInfo.environment["HIMETRICA_SECRET_KEY"] ?? ""
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.timeout * 1000))
        var left = Int.max
        while ContinuousClock.now < deadline {
            left = (try? SpoolStatus(path: path).count(forKey: key)) ?? left
            if left == 0 { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let stats = client.stats
        _ = await client.shutdown(timeout: .seconds(1))
        let summary: [String: JSONValue] = [
            "delivered": .int(Int64(stats.delivered)), "rejected": .int(Int64(stats.rejected)),
            "gave_up": .int(Int64(stats.gaveUp)), "waiting": .int(Int64(left == Int.max ? -1 : left)),
        ]
        let ok = left == 0 && stats.rejected == 0 && stats.gaveUp == 0
        runner.print(
            ok: ok,
            text: "drained \(path): \(stats.delivered) delivered, \(stats.rejected) rejected, \(stats.gaveUp) gave up, \(left == Int.max ? "?" : String(left)) waiting",
            json: summary)
        if left != 0 || stats.gaveUp > 0 { Glibc.exit(3) }
        if stats.rejected > 0 { Glibc.exit(1) }
    }
}
#endif
