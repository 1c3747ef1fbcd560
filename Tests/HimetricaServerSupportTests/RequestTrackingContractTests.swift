import HimetricaServerSupport
import HimetricaTestSupport
import Testing

/// The Swift middlewares' shared tracking rules against the contract's tables
/// (`Tests/vectors/request-tracking.json`); the Vapor and Hummingbird suites check the events
/// they send against the same file.
@Suite struct RequestTrackingContractTests {
    let contract: RequestTrackingContract

    init() throws {
        contract = try RequestTrackingContract.load()
    }

    @Test func defaultsAreTheContracts() {
        let tracking = HimetricaRequestTracking()
        #expect(tracking.eventName == contract.eventName)
        #expect(tracking.serverErrorEventName == contract.serverErrorEventName)
        #expect(tracking.sampleRate == contract.defaults.sampleRate)
        #expect(tracking.excludedPaths == contract.defaults.excludedPaths)
    }

    @Test func excludedPathsMatchAsTheContractSays() {
        for c in contract.excludedPaths {
            #expect(HimetricaRequestTracking(excludedPaths: c.excluded).includes(method: "GET", path: c.path) == c.tracked,
                    "\(c.excluded) \(c.path)")
        }
    }

    @Test func eventsAndSamplingAreTheContracts() {
        for c in contract.events {
            #expect(HimetricaRequestTracking(sampleRate: c.sampleRate).eventName(status: c.status, draw: c.draw) == c.event,
                    "status \(c.status) rate \(c.sampleRate) draw \(c.draw)")
        }
    }

    @Test func propertiesAreTheContracts() {
        let properties = HimetricaRequestTracking.properties(
            method: "GET", route: nil, status: 200, duration: .nanoseconds(1_234_567))
        guard case .object(let members) = properties else {
            Issue.record("properties are not an object")
            return
        }
        #expect(members.keys.sorted() == contract.propertyNames)
        #expect(members["durationMs"] == .double(1.234))
        #expect(members["route"] == .null)
    }
}
