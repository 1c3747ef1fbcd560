#if DevServer  // a package trait (Package.swift)
import Foundation
import Testing

@testable import HimetricaDevServer

/// Runs the curl examples of the Server API reference, verbatim except that the base URL, the
/// secret key and the placeholder `hm_usr_a1b2c3d4e5f6` are swapped for the dev server's own,
/// with the real `curl` binary, and checks the documented answers.
@Suite struct CurlExamplesTests {
    /// The examples in the order a real integration would run them: the user id comes from
    /// `GET /user-id`, and tracking by email needs the identify that sets the email first.
    static let examples: [(command: String, status: Int)] = [
        (#"""
        curl -X GET "https://app.himetrica.com/api/v1/user-id?visitorId=abc123" \
        -H "X-API-Key: hm_sk_your_secret_key"
        """#, 200),
        (#"""
        curl -X POST "https://app.himetrica.com/api/v1/identify" \
        -H "X-API-Key: hm_sk_your_secret_key" \
        -H "Content-Type: application/json" \
        -d '{
        "userId": "hm_usr_a1b2c3d4e5f6",
        "traits": {
        "userId": "usr_123",
        "email": "jane@example.com",
        "name": "Jane Doe",
        "plan": "enterprise",
        "company": "Acme Inc"
        }
        }'
        """#, 200),
        (#"""
        curl -X POST "https://app.himetrica.com/api/v1/track" \
        -H "X-API-Key: hm_sk_your_secret_key" \
        -H "Content-Type: application/json" \
        -d '{
        "userId": "hm_usr_a1b2c3d4e5f6",
        "eventName": "subscription_renewed",
        "properties": {
        "plan": "pro",
        "amount": 29.99,
        "currency": "USD"
        }
        }'
        """#, 202),
        (#"""
        curl -X POST "https://app.himetrica.com/api/v1/track" \
        -H "X-API-Key: hm_sk_your_secret_key" \
        -H "Content-Type: application/json" \
        -d '{
        "email": "jane@example.com",
        "eventName": "invoice_paid",
        "properties": {
        "amount": 99.99,
        "currency": "USD"
        }
        }'
        """#, 202),
        (#"""
        curl -X POST "https://app.himetrica.com/api/v1/track" \
        -H "X-API-Key: hm_sk_your_secret_key" \
        -H "Content-Type: application/json" \
        -d '{
        "userId": "hm_usr_a1b2c3d4e5f6",
        "eventName": "email_opened",
        "session": "latest",
        "properties": {
        "campaign": "onboarding_day_3"
        }
        }'
        """#, 202),
        (#"""
        curl -X POST "https://app.himetrica.com/api/v1/track" \
        -H "X-API-Key: hm_sk_your_secret_key" \
        -H "Content-Type: application/json" \
        -d '{
        "visitorId": "abc123",
        "eventName": "webhook_received",
        "session": "new",
        "properties": {
        "source": "stripe"
        }
        }'
        """#, 202),
    ]

    @Test func referenceExamples() async throws {
        try await withServer { client in
            let userId = try await client.userId("abc123")
            for (command, status) in Self.examples {
                let swapped = command
                    .replacingOccurrences(of: "https://app.himetrica.com", with: "http://localhost:\(client.port)")
                    .replacingOccurrences(of: "hm_sk_your_secret_key", with: devKey)
                    .replacingOccurrences(of: "hm_usr_a1b2c3d4e5f6", with: userId)
                let (code, body) = try await Self.run(swapped + " -s -w '\\n%{http_code}'")
                #expect(code == status, "\(command)\n→ \(body)")
                let json = JSONValue.parse(body)
                if status == 200, command.contains("user-id") {
                    #expect(json == .object([("userId", .string(userId))]))
                } else {
                    #expect(json == .object([("success", .bool(true))]), "\(body)")
                }
            }
            // The track examples landed under the identified user, the last one with a new session.
            let events = try await client.events()
            #expect(events.count == 5)
            #expect(Set(events.compactMap { $0["userId"]?.stringValue }) == [userId])
            #expect(events.last?["sessionId"] == .string("hm_ses_1"))
        }
    }

    @Test func chunkedUploadOverCapIsRefused() async throws {
        try await withServer { client in
            let big = #"{"visitorId":"v","eventName":"x","properties":{"k":""# + String(repeating: "a", count: 200_000) + "\"}}"
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("devserver-big-\(UUID().uuidString).json")
            try Data(big.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let (code, body) = try await Self.run(
                "curl -s -w '\\n%{http_code}' -H 'Transfer-Encoding: chunked' -H 'X-API-Key: \(devKey)' "
                    + "--data-binary @\(file.path) http://localhost:\(client.port)/api/v1/track"
            )
            #expect(code == 413, "\(body)")
            #expect(try await client.events().isEmpty)
        }
    }

    /// Runs `command` with /bin/sh; returns the status code curl printed last and the body before it.
    static func run(_ command: String) async throws -> (Int, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // Read on a Dispatch thread: a blocking read must not occupy the cooperative pool the
        // in-process server answers on.
        let data = await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: data)
            }
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }
}
#endif
