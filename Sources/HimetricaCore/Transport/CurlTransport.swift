import CCurl
import HimetricaRules

#if canImport(Glibc)
import Glibc
#endif

/// The transport over libcurl: one `curl_multi` handle driven by the flush thread, connections
/// kept alive and reused, HTTP/2 over TLS when the server offers it, no redirects, TLS
/// verification on.
final class CurlTransport: Transport {
    private let multi: UnsafeMutableRawPointer
    private var headers: UnsafeMutablePointer<curl_slist>?
    private let settings: Settings
    private var transfers: [UnsafeMutableRawPointer: Transfer] = [:]
    private var idle: [UnsafeMutableRawPointer] = []

    /// What every request shares.
    struct Settings {
        let secretKey: String
        let userAgent: String
        let connectTimeoutMilliseconds: Int
        let timeoutMilliseconds: Int
        let caFile: String?
        let maxResponseBytes: Int
        let proxy: Proxy
    }

    /// The proxy libcurl would look up in the environment on every request, looked up once:
    /// for an `https` endpoint `https_proxy` or `HTTPS_PROXY`, for `http` only `http_proxy`
    /// (never the upper case, as libcurl), else `all_proxy` or `ALL_PROXY`; hosts to reach
    /// directly from `no_proxy` or `NO_PROXY`. Given as options, they spare libcurl reading
    /// (and formatting the names of) these variables for each request.
    struct Proxy: Equatable {
        /// The proxy URL; empty for none.
        let url: String
        /// Hosts reached without the proxy (libcurl's `CURLOPT_NOPROXY` list); empty for none.
        let exclusions: String

        /// - Parameter environment: reads a variable (the process environment by default).
        static func fromEnvironment(
            https: Bool, environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }
        ) -> Proxy {
            func variable(_ names: String...) -> String? {
                names.lazy.compactMap(environment).first { !$0.isEmpty }
            }
            let url = (https ? variable("https_proxy", "HTTPS_PROXY") : variable("http_proxy"))
                ?? variable("all_proxy", "ALL_PROXY")
            return Proxy(url: url ?? "", exclusions: variable("no_proxy", "NO_PROXY") ?? "")
        }
    }

    /// One request in flight: its easy handle, the body it sends and the answer it collects.
    final class Transfer {
        let id: UInt64
        let easy: UnsafeMutableRawPointer
        let body: UnsafeMutableBufferPointer<UInt8>?
        let maxResponseBytes: Int
        var response: [UInt8] = []
        var truncated = false

        init(id: UInt64, easy: UnsafeMutableRawPointer, body: [UInt8]?, maxResponseBytes: Int) {
            self.id = id
            self.easy = easy
            self.maxResponseBytes = maxResponseBytes
            if let body {
                let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(body.count, 1))
                _ = copy.initialize(from: body)
                self.body = copy
            } else {
                self.body = nil
            }
        }

        deinit { body?.deallocate() }
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init(settings: Settings) {
        _ = Self.globalInit
        self.settings = settings
        multi = curl_multi_init()
        hm_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        for line in [
            "X-API-Key: \(settings.secretKey)", "Content-Type: application/json", "Accept: application/json",
            "User-Agent: \(settings.userAgent)", "Expect:",
        ] {
            headers = curl_slist_append(headers, line)
        }
    }

    deinit {
        cancelAll()
        for easy in idle { curl_easy_cleanup(easy) }
        curl_multi_cleanup(multi)
        curl_slist_free_all(headers)
    }

    func start(_ request: OutgoingRequest) {
        // A reused handle keeps the options every request shares (set once when it was
        // created), so only the per-request ones are set here: no curl_easy_reset and a dozen
        // setopts per request.
        let easy = idle.popLast() ?? newEasyHandle()
        let transfer = Transfer(id: request.id, easy: easy, body: request.body, maxResponseBytes: settings.maxResponseBytes)
        hm_curl_setopt_string(easy, CURLOPT_URL, request.url)
        if let body = transfer.body {
            hm_curl_setopt_long(easy, CURLOPT_POST, 1)
            hm_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body?.count ?? 0))
            hm_curl_setopt_pointer(easy, CURLOPT_POSTFIELDS, body.baseAddress)
        } else {
            hm_curl_setopt_pointer(easy, CURLOPT_POSTFIELDS, nil)
            hm_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, -1)
            hm_curl_setopt_long(easy, CURLOPT_HTTPGET, 1)
        }
        hm_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(transfer).toOpaque())
        transfers[easy] = transfer
        curl_multi_add_handle(multi, easy)
    }

    /// A new easy handle with the options every request shares.
    private func newEasyHandle() -> UnsafeMutableRawPointer {
        let easy = curl_easy_init()!
        hm_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headers)
        hm_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        hm_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        hm_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        hm_curl_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        hm_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        hm_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = settings.caFile { hm_curl_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        hm_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds)
        hm_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, settings.timeoutMilliseconds)
        hm_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        hm_curl_setopt_string(easy, CURLOPT_PROXY, settings.proxy.url)
        hm_curl_setopt_string(easy, CURLOPT_NOPROXY, settings.proxy.exclusions)
        hm_curl_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, user in
            let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            let room = transfer.maxResponseBytes - transfer.response.count
            guard length <= room else {
                transfer.truncated = true
                return 0  // abort: the answer is larger than we will read
            }
            data!.withMemoryRebound(to: UInt8.self, capacity: length) {
                transfer.response.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
            }
            return length
        }
        return easy
    }

    func poll(timeoutMilliseconds: Int32) -> [(id: UInt64, response: TransportResponse)] {
        var running: Int32 = 0
        curl_multi_perform(multi, &running)
        var done = readCompleted()
        if done.isEmpty {
            curl_multi_poll(multi, nil, 0, max(timeoutMilliseconds, 0), nil)
            curl_multi_perform(multi, &running)
            done = readCompleted()
        }
        return done
    }

    func wakeup() {
        curl_multi_wakeup(multi)
    }

    func cancelAll() {
        for (easy, _) in transfers {
            curl_multi_remove_handle(multi, easy)
            idle.append(easy)
        }
        transfers = [:]
    }

    func abandonAfterFork() {
        transfers = [:]
        idle = []
    }

    private func readCompleted() -> [(id: UInt64, response: TransportResponse)] {
        var done: [(id: UInt64, response: TransportResponse)] = []
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = transfers.removeValue(forKey: easy)
            else { continue }
            let result = message.pointee.data.result
            done.append((transfer.id, response(of: transfer, result: result)))
            curl_multi_remove_handle(multi, easy)
            idle.append(easy)
        }
        return done
    }

    private func response(of transfer: Transfer, result: CURLcode) -> TransportResponse {
        var status = 0
        hm_curl_getinfo_long(transfer.easy, CURLINFO_RESPONSE_CODE, &status)
        var response = TransportResponse(status: status, body: transfer.response)
        if result != CURLE_OK, !(transfer.truncated && status > 0) {
            if status == 0 || result != CURLE_WRITE_ERROR {
                response.error = String(cString: curl_easy_strerror(result))
            }
            if status > 0, result == CURLE_OPERATION_TIMEDOUT || result == CURLE_RECV_ERROR {
                // The status line arrived, so the server processed the request.
                response.error = nil
            }
        }
        response.retryAfter = header("Retry-After", of: transfer.easy)
        response.rateLimitRemaining = header("X-RateLimit-Remaining", of: transfer.easy)
        // The reset time only means something next to the remaining count.
        if response.rateLimitRemaining != nil {
            response.rateLimitReset = header("X-RateLimit-Reset", of: transfer.easy)
        }
        return response
    }

    private func header(_ name: StaticString, of easy: UnsafeMutableRawPointer) -> String? {
        var found: UnsafeMutablePointer<curl_header>?
        // A static string literal is stored NUL-terminated: no conversion for each call.
        let cName = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        guard curl_easy_header(easy, cName, 0, UInt32(CURLH_HEADER), -1, &found) == CURLHE_OK,
            let value = found?.pointee.value
        else { return nil }
        return String(cString: value)
    }
}
