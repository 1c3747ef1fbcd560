#if DevServer  // a package trait (Package.swift)
import Hummingbird

/// The live page at `/`: a self-contained HTML document whose script polls
/// `/_dev/events?after=` and lists each arriving event.
enum Page {
    static var response: Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html))
        )
    }

    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>himetrica-devserver</title>
        <style>
        body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top}
        th{background:#f4f4f4}td.p{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all}
        .identify{color:#0a6}.track{color:#06c}#status{color:#888}
        </style></head><body>
        <h1>himetrica-devserver</h1>
        <p id="status">waiting for events…</p>
        <table><thead><tr><th>#</th><th>time</th><th>endpoint</th><th>identity</th><th>event</th><th>properties / traits</th></tr></thead>
        <tbody id="rows"></tbody></table>
        <script>
        let after = 0;
        const rows = document.getElementById("rows"), status = document.getElementById("status");
        function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; }
        function identity(b) {
          if (b.userId != null) return "userId " + b.userId;
          if (b.email != null) return "email " + b.email;
          return "visitorId " + b.visitorId;
        }
        async function poll() {
          try {
            const r = await fetch("/_dev/events?after=" + after);
            const data = await r.json();
            if (data.events.length === 0 && after > 0) {
              const stats = await (await fetch("/_dev/stats")).json();
              if (stats.events < after) { rows.innerHTML = ""; after = 0; }
            }
            for (const e of data.events) {
              after = e.seq;
              const tr = rows.insertRow(0), b = e.body || {};
              cell(tr, e.seq);
              cell(tr, new Date(e.receivedAt).toLocaleTimeString());
              cell(tr, e.endpoint, e.endpoint);
              cell(tr, identity(b) + "\\n→ " + e.visitorId + " / " + e.userId, "p");
              cell(tr, e.endpoint === "track" ? b.eventName : "");
              cell(tr, JSON.stringify(e.endpoint === "track" ? (b.properties ?? {}) : b.traits, null, 1), "p");
            }
            status.textContent = "live · " + after + " events · " + new Date().toLocaleTimeString();
          } catch (err) {
            status.textContent = "disconnected: " + err;
          }
          setTimeout(poll, 1000);
        }
        poll();
        </script></body></html>
        """
}
#endif
