// A small Vapor app with Himetrica: every request to its routes is tracked, handlers track
// their own events about the visitor.
//
//   HIMETRICA_SECRET_KEY=hm_sk_... swift run --traits Vapor himetrica-example-vapor
//   curl -b hm_vid=3f1c2a9e-visitor http://127.0.0.1:8080/users/42
//
// Environment: HIMETRICA_SECRET_KEY (required), HIMETRICA_ENDPOINT (optional, e.g. a local
// himetrica-devserver), PORT (default 8080), HIMETRICA_MIDDLEWARE=off (serve without the request
// middleware, to compare).
#if Vapor  // a package trait (Package.swift)
import HimetricaVapor
import Vapor

let environment = ProcessInfo.processInfo.environment
var configuration = HimetricaClient.Configuration()
if let endpoint = environment["HIMETRICA_ENDPOINT"] { configuration.endpoint = endpoint }

let app = try await Application.make(.production)
app.http.server.configuration.hostname = "127.0.0.1"
app.http.server.configuration.port = Int(environment["PORT"] ?? "") ?? 8080
app.logger.logLevel = .warning

try app.himetrica.configure(
    secretKey: environment["HIMETRICA_SECRET_KEY"] ?? "", configuration: configuration,
    // The signed-in user first (here a demo header standing in for real authentication),
    // then the browser tracker's cookie.
    visitor: [.custom { req in req.headers.first(name: "X-Demo-User-Email").map(HimetricaClient.Identity.email) }, .cookie("hm_vid")])
if environment["HIMETRICA_MIDDLEWARE"] != "off" {
    app.middleware.use(HimetricaMiddleware(HimetricaRequestTracking(excludedPaths: ["/health"])))
}

app.get("health") { _ in "ok" }
app.get("hello") { _ in "hello" }
app.get("users", ":id") { req in
    // Tracking never fails the request: log and go on if the visitor is unknown.
    do { try req.himetrica.track("profile_viewed", properties: ["plan": "pro"]) } catch { req.logger.info("\(error)") }
    return "user \(req.parameters.get("id") ?? "")"
}
app.get("me") { req in (try? await req.himetrica.userId()) ?? "unknown visitor" }

try await app.execute()
try await app.asyncShutdown()
#else
import Glibc

// Built without the Vapor trait: say how to build it, instead of failing to link.
// `stderr` is a C global that Swift 6 refuses to read; write(2) needs none.
let message = "himetrica-example-vapor was built without the Vapor trait: swift build --traits Vapor --product himetrica-example-vapor\n"
_ = write(2, message, message.utf8.count)
exit(2)
#endif
