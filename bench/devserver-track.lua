-- wrk script: POST a valid track body with the dev server's default key (or $HIMETRICA_KEY).
-- Usage: wrk -t2 -c32 -d10s -s bench/devserver-track.lua http://127.0.0.1:PORT/api/v1/track
-- Start the server with --no-limits, or the rate limiter answers 429 after 1000 requests;
-- wrk prints "Non-2xx or 3xx responses" when anything but 202 came back.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("HIMETRICA_KEY") or "hm_sk_dev_local_0000000000000000"
wrk.body = '{"visitorId":"bench-visitor","eventName":"bench_event","properties":{"plan":"pro","amount":29.99}}'
