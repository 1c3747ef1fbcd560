import Testing

@testable import HimetricaCore

@Suite("The proxy from the environment, read once as libcurl would per request")
struct ProxyTests {
    private func proxy(https: Bool, _ variables: [String: String]) -> CurlTransport.Proxy {
        CurlTransport.Proxy.fromEnvironment(https: https) { variables[$0] }
    }

    @Test("the scheme's variable first, then all_proxy; no_proxy as the exclusions")
    func precedence() {
        let all = [
            "https_proxy": "http://s:1", "HTTPS_PROXY": "http://S:1", "http_proxy": "http://h:1",
            "all_proxy": "http://a:1", "ALL_PROXY": "http://A:1", "no_proxy": "localhost", "NO_PROXY": "other",
        ]
        #expect(proxy(https: true, all) == .init(url: "http://s:1", exclusions: "localhost"))
        #expect(proxy(https: false, all) == .init(url: "http://h:1", exclusions: "localhost"))
        #expect(proxy(https: true, ["HTTPS_PROXY": "http://S:1", "NO_PROXY": "other"]) == .init(url: "http://S:1", exclusions: "other"))
        #expect(proxy(https: true, ["ALL_PROXY": "http://A:1"]) == .init(url: "http://A:1", exclusions: ""))
    }

    @Test("http never takes HTTP_PROXY (a request header can set it under CGI); empty means unset")
    func upperCaseHTTPAndEmpty() {
        #expect(proxy(https: false, ["HTTP_PROXY": "http://evil:1"]) == .init(url: "", exclusions: ""))
        #expect(proxy(https: true, ["https_proxy": "", "HTTPS_PROXY": "http://S:1"]) == .init(url: "http://S:1", exclusions: ""))
        #expect(proxy(https: true, [:]) == .init(url: "", exclusions: ""))
    }
}
