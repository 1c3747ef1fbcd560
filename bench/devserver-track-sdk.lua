-- wrk script: POST the request the SDK itself sends for a track call (its headers, and a body
-- with properties and a timestamp, over 64 visitors), as bench/c_track.c's delivery runs make
-- it. The dev server spends more on it than on bench/devserver-track.lua's shorter body.
-- Usage: wrk -t2 -c16 -d4s -s bench/devserver-track-sdk.lua http://127.0.0.1:PORT/api/v1/track
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["User-Agent"] = "himetrica-toolkit/0.1.0 (c)"
wrk.headers["X-API-Key"] = os.getenv("HIMETRICA_KEY") or "hm_sk_dev_local_0000000000000000"
local timestamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"eventName":"bench_deliver","visitorId":"bench-visitor-' .. (n % 64)
    .. '","properties":{"plan":"pro","amount":29.99,"currency":"USD","seats":3},"timestamp":"' .. timestamp .. '"}')
end
