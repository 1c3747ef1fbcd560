// A small Hummingbird app with Himetrica: every request to its routes is tracked, handlers track
// their own events about the visitor, and the client runs as a service so graceful shutdown
// (SIGINT/SIGTERM) delivers what is still queued.
//
//   HIMETRICA_SECRET_KEY=hm_sk_... swift run --traits Hummingbird himetrica-example-hummingbird
//   curl -b hm_vid=3f1c2a9e-visitor http://127.0.0.1:8080/users/42
//
// Environment: HIMETRICA_SECRET_KEY (required), HIMETRICA_ENDPOINT (optional, e.g. a local
// himetrica-devserver), PORT (default 8080), HIMETRICA_MIDDLEWARE=off (serve without the request
// middleware, to compare).
#if Hummingbird  // a package trait (Package.swift)
import Foundation
import HimetricaHummingbird
import HTTPTypes
import Hummingbird

/// The request context: Hummingbird's core storage plus the Himetrica handle.
struct AppContext: HimetricaRequestContext {
    var coreContext: CoreRequestContextStorage
    var himetrica: HimetricaRequestHandle?

    init(source: Source) { coreContext = .init(source: source) }
}

let environment = ProcessInfo.processInfo.environment
var configuration = HimetricaClient.Configuration()
if let endpoint = environment["HIMETRICA_ENDPOINT"] { configuration.endpoint = endpoint }
let himetrica = try HimetricaClient(secretKey: environment["HIMETRICA_SECRET_KEY"] ?? "", configuration: configuration)

let router = Router(context: AppContext.self)
if environment["HIMETRICA_MIDDLEWARE"] != "off" {
    router.add(middleware: HimetricaMiddleware(
        client: himetrica,
        // The signed-in user first (here a demo header standing in for real authentication),
        // then the browser tracker's cookie.
        visitor: [.custom { request, _ in request.headers[.init("X-Demo-User-Email")!].map(HimetricaClient.Identity.email) }, .cookie("hm_vid")],
        tracking: HimetricaRequestTracking(excludedPaths: ["/health"])))
}
router.get("health") { _, _ in "ok" }
router.get("hello") { _, _ in "hello" }
router.get("users/:id") { _, context in
    // Tracking never fails the request: log and go on if the visitor is unknown.
    do { try context.himetrica?.track("profile_viewed", properties: ["plan": "pro"]) } catch { context.logger.info("\(error)") }
    return "user \(context.parameters.get("id") ?? "")"
}
router.get("me") { _, context in (try? await context.himetrica?.userId()) ?? "unknown visitor" }

let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: Int(environment["PORT"] ?? "") ?? 8080)),
    services: [himetrica])
try await app.runService()
#else
import Glibc

// Built without the Hummingbird trait: say how to build it, instead of failing to link.
// `stderr` is a C global that Swift 6 refuses to read; write(2) needs none.
let message = "himetrica-example-hummingbird was built without the Hummingbird trait: swift build --traits Hummingbird --product himetrica-example-hummingbird\n"
_ = write(2, message, message.utf8.count)
exit(2)
#endif
