/// The Server API's three endpoints, each with its own rate limit.
public enum Endpoint: Int, Sendable, Hashable, CaseIterable {
    /// `POST /track`: a server-side custom event.
    case track
    /// `POST /identify`: update a visitor's traits.
    case identify
    /// `GET /user-id`: resolve a browser visitor id to Himetrica's user id.
    case userId

    /// The endpoint's short name, as used in configuration and statistics.
    public var name: String {
        switch self {
        case .track: "track"
        case .identify: "identify"
        case .userId: "user-id"
        }
    }

    /// The path below the API's base URL.
    package var path: String { "/" + name }

    /// The documented per-key limit: requests per minute.
    package var documentedLimitPerMinute: Int {
        switch self {
        case .track: 1000
        case .identify: 500
        case .userId: 100
        }
    }
}
