import Foundation

/// The request-tracking contract every middleware keeps, read from
/// `Tests/vectors/request-tracking.json` (see `Tests/vectors/README.md`).
public struct RequestTrackingContract: Decodable, Sendable {
    /// The defaults every middleware starts from.
    public struct Defaults: Decodable, Sendable {
        public let sampleRate: Double
        public let excludedPaths: [String]
    }

    /// Whether `path` is tracked when `excluded` are the excluded paths.
    public struct PathCase: Decodable, Sendable {
        public let excluded: [String]
        public let path: String
        public let tracked: Bool
    }

    /// The event a response with `status` is tracked as, for a sample rate and a random draw.
    public struct EventCase: Decodable, Sendable {
        public let status: Int
        public let sampleRate: Double
        public let draw: Double
        public let event: String?
    }

    public let eventName: String
    public let serverErrorEventName: String
    public let serverErrorFromStatus: Int
    public let thrownErrorStatus: Int
    public let defaults: Defaults
    public let propertyNames: [String]
    public let durationDecimals: Int
    public let excludedPaths: [PathCase]
    public let events: [EventCase]

    /// The contract as the file says it.
    public static func load() throws -> Self {
        let url = DevServer.packageRoot.appendingPathComponent("Tests/vectors/request-tracking.json")
        return try JSONDecoder().decode(Self.self, from: Data(contentsOf: url))
    }

    /// How a received request event's body breaks the contract: empty when it keeps it.
    /// `route` is the pattern the framework should have given (nil: the JSON null).
    public func violations(of body: [String: Any], method: String, route: String?, status: Int) -> [String] {
        var found: [String] = []
        let properties = body["properties"] as? [String: Any] ?? [:]
        let expectedName = status >= serverErrorFromStatus ? serverErrorEventName : eventName
        if body["eventName"] as? String != expectedName { found.append("eventName \(body["eventName"] ?? "none") != \(expectedName)") }
        if properties.keys.sorted() != propertyNames { found.append("properties \(properties.keys.sorted()) != \(propertyNames)") }
        if properties["method"] as? String != method { found.append("method \(properties["method"] ?? "none") != \(method)") }
        if let route {
            if properties["route"] as? String != route { found.append("route \(properties["route"] ?? "none") != \(route)") }
        } else if !(properties["route"] is NSNull) {
            found.append("route \(properties["route"] ?? "none") != null")
        }
        if properties["status"] as? Int != status { found.append("status \(properties["status"] ?? "none") != \(status)") }
        if let duration = properties["durationMs"] as? Double {
            let scaled = duration * pow(10, Double(durationDecimals))
            if duration < 0 || abs(scaled - scaled.rounded()) > 1e-6 {
                found.append("durationMs \(duration): not >= 0 with at most \(durationDecimals) decimals")
            }
        } else {
            found.append("durationMs \(properties["durationMs"] ?? "none") is not a number")
        }
        return found
    }
}
