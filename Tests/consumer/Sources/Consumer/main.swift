// Uses only `import Himetrica`: the client, its nested configuration, identity, session and
// result types, HimetricaError and HimetricaValidationError. Sends one identify and one track to $HIMETRICA_ENDPOINT and
// exits 0 when both were delivered.
import Himetrica

#if canImport(Glibc)
import Glibc
#endif

func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

var configuration = HimetricaClient.Configuration()
configuration.endpoint = environment("HIMETRICA_ENDPOINT") ?? "http://127.0.0.1:8787/api/v1"
configuration.requestTimeout = .seconds(5)
configuration.retryBaseDelay = .milliseconds(50)
configuration.rateLimits[.track] = HimetricaClient.RateLimit(count: 100, window: .seconds(60))

let client = try HimetricaClient(secretKey: environment("HIMETRICA_SECRET_KEY") ?? "", configuration: configuration)
let visitor: HimetricaClient.Identity = .visitorId("consumer-visitor-1")
try client.identify(visitor, traits: ["name": "Consumer"])
try client.track("consumer_built", identity: visitor, properties: ["layout": "traits"], session: HimetricaClient.Session.new)
let refused = refusesBadEventName(client, visitor)
let result: HimetricaClient.FlushResult = await client.shutdown(timeout: .seconds(20))
let stats: HimetricaClient.Stats = client.stats
print("delivered \(stats.delivered) of \(stats.queued), pending \(result.pending)")
exit(refused && result.completed && stats.delivered == 2 ? 0 : 1)

/// Whether the client refuses an invalid event name at once, naming the field and the rule.
/// (A function, not top-level code: Swift 6.3.1's SILGen crashes on a typed-throws `catch`
/// pattern in top-level async code.)
func refusesBadEventName(_ client: HimetricaClient, _ visitor: HimetricaClient.Identity) -> Bool {
    do {
        try client.track("bad name!", identity: visitor)
        return false
    } catch {
        guard case .invalid(let validation) = error else { return false }
        let message: String = (validation as HimetricaValidationError).message
        print("refused as expected: \(message)")
        return message.hasPrefix("eventName: ")
    }
}
