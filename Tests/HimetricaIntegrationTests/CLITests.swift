import Foundation
import HimetricaTestSupport
import Testing

/// The `himetrica` command against a real dev server: output, exit status, delivery.
@Suite(.serialized)
struct CLITests {
    /// The CLI, built next to the dev server (which `HIMETRICA_DEVSERVER` may point at).
    static let binary: URL = {
        let directory = ProcessInfo.processInfo.environment["HIMETRICA_DEVSERVER"]
            .map { URL(fileURLWithPath: $0).deletingLastPathComponent() }
            ?? DevServer.packageRoot.appendingPathComponent(".build/debug")
        return directory.appendingPathComponent("himetrica")
    }()

    /// Runs the CLI with `arguments` and the server's key and endpoint in the environment.
    func run(_ arguments: [String], server: DevServer, key: String = DevServer.key) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ["HIMETRICA_SECRET_KEY": key, "HIMETRICA_ENDPOINT": server.endpoint]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test("track, identify and user-id deliver and exit 0; --json prints the outcome")
    func delivered() async throws {
        let server = try DevServer()
        let identify = try run(["identify", "--visitor-id", "cli-1", "--traits", #"{"email":"cli@example.com","name":"C"}"#], server: server)
        #expect(identify.status == 0 && identify.output.contains("delivered identify (HTTP 200)"))
        let track = try run(["track", "paid", "--email", "cli@example.com", "--prop", "amount=9.5", "--prop", "plan=pro",
                             "--properties", #"{"seats": 3}"#, "--session", "new", "--json"], server: server)
        #expect(track.status == 0)
        #expect(track.output.contains(#""ok":true"#) && track.output.contains(#""status":202"#))
        let userId = try run(["user-id", "cli-1"], server: server)
        #expect(userId.status == 0 && userId.output.hasPrefix("hm_usr_"))
        let events = try await server.events()
        #expect(events.count == 2)
        let properties = events.last?.body["properties"] as? [String: Any]
        #expect(properties?["amount"] as? Double == 9.5 && properties?["plan"] as? String == "pro" && properties?["seats"] as? Int == 3)
        #expect(events.last?.body["session"] as? String == "new")
    }

    @Test("invalid input exits 2 naming the rule; a refused request exits 1; the key never shows")
    func failures() async throws {
        let server = try DevServer()
        let invalid = try run(["track", "no spaces", "--visitor-id", "v"], server: server)
        #expect(invalid.status == 2 && invalid.output.contains("eventName: may contain only letters, digits, '_' and '-'"))
        let wrongKey = "hm_sk_cli_wrong_key_0000"
        let refused = try run(["track", "x", "--visitor-id", "v", "--json"], server: server, key: wrongKey)
        #expect(refused.status == 1 && refused.output.contains(#""ok":false"#))
        #expect(!refused.output.contains(wrongKey))
        let notFound = try run(["track", "x", "--email", "nobody@example.com"], server: server)
        #expect(notFound.status == 1 && notFound.output.contains("Visitor not found"))
        #expect(try await server.events().isEmpty)
    }
}
