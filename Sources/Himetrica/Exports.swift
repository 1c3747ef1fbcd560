// The public surface of `import Himetrica`: the client (HimetricaClient.swift), its errors
// (HimetricaError, HimetricaValidationError), and the types it takes and returns, nested in
// `HimetricaClient` so that no generic name (`Configuration`, `Session`, `Stats`...) lands at
// the top level of an importing file, where Swift, Vapor, Hummingbird or ArgumentParser already
// use it. The engine's own modules (HimetricaCore, HimetricaRules) are not re-exported whole:
// everything in them but these types is `package`. The two single-symbol re-exports below also
// make the members of the nested types visible to files that build with MemberImportVisibility
// (Tests/consumer does).
@_exported import enum HimetricaCore.HimetricaError
@_exported import typealias HimetricaRules.HimetricaValidationError
public import HimetricaCore
public import HimetricaRules

extension HimetricaClient {
    /// Everything a client can be configured with; every option has a documented default.
    public typealias Configuration = HimetricaCore.Configuration
    /// How many requests an endpoint may receive in a window (``Configuration/rateLimits``).
    public typealias RateLimit = HimetricaCore.RateLimit
    /// The Server API's endpoints: `track`, `identify`, `userId`.
    public typealias Endpoint = HimetricaRules.Endpoint
    /// Who a call is about: `.userId("hm_usr_…")`, `.email(…)` or `.visitorId(…)`.
    public typealias Identity = HimetricaRules.Identity
    /// The browser session an event attaches to: `.latest` or `.new`.
    public typealias Session = HimetricaRules.Session
    /// A JSON value, written as a Swift literal (`["plan": "pro", "seats": 5]`).
    public typealias JSONValue = HimetricaRules.JSONValue
    /// What a flush or shutdown left undone when it returned.
    public typealias FlushResult = HimetricaCore.FlushResult
    /// The client's counters (``HimetricaClient/stats``).
    public typealias Stats = HimetricaCore.Stats
    /// A request's final outcome, given to ``Configuration/onDelivery``.
    public typealias Delivery = HimetricaCore.Delivery
    /// How a request ended: delivered, rejected, gave up or dropped.
    public typealias DeliveryOutcome = HimetricaCore.DeliveryOutcome
    /// Whether spool commits are fsynced (``Configuration/spoolSync``).
    public typealias SpoolSync = HimetricaCore.SpoolSync
    /// The local limit kept while Redis is away (``Configuration/sharedLimitFallback``).
    public typealias SharedLimitFallback = HimetricaCore.SharedLimitFallback
}
