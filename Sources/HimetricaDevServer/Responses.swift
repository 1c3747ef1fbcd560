#if DevServer  // a package trait (Package.swift)
import HTTPTypes
import Hummingbird

/// Builders for the dev server's JSON answers.
enum Reply {
    /// A JSON response with `body` as its text.
    static func json(_ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// `{"error": message}` with `status`.
    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        json(status, "{\"error\":" + JSONValue.quoted(message) + "}", headers: headers)
    }

    /// `{"success": true}` with `status`.
    static func success(_ status: HTTPResponse.Status) -> Response {
        json(status, "{\"success\":true}")
    }

    /// 404 for a path the dev server does not serve.
    static var notFound: Response { error(.notFound, "Not found") }

    /// 405 listing the methods `allowed` on the path.
    static func methodNotAllowed(_ allowed: String) -> Response {
        error(.methodNotAllowed, "Method not allowed", headers: [.allow: allowed])
    }

    /// The body of an injected 5xx answer.
    static func injectedError(_ status: Int) -> Response {
        let message: String
        switch status {
        case 500: message = "Internal server error"
        case 502: message = "Bad gateway"
        default: message = "Service temporarily unavailable"
        }
        return error(HTTPResponse.Status(code: status), message)
    }
}

extension HTTPField.Name {
    static let apiKey = HTTPField.Name("X-API-Key")!
    static let rateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
}
#endif
