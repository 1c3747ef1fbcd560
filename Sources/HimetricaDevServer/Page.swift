#if DevServer  // a package trait (Package.swift)
import Hummingbird

/// The live page at `/`: one self-contained HTML document (inline CSS, script and SVG; nothing
/// fetched but the dev server's own `/_dev/*` JSON) that polls once a second and shows, per
/// endpoint, the answers by status and a chart of the current rate-limit window against the
/// limit; the request log with faults, 429s and 5xx marked; the fault settings with a form that
/// replaces them through `PUT /_dev/faults`; and the accepted events.
enum Page {
    static var response: Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html))
        )
    }

    /// Rows kept in each of the page's logs; older ones leave the page (not the server).
    static let rowsShown = 300

    static let html = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>himetrica-devserver</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        :root{--ink:#1d2330;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;--ok:#15803d;--okbg:#dcfce7;
          --warn:#b45309;--warnbg:#fef3c7;--bad:#b91c1c;--badbg:#fee2e2;--fault:#7c3aed;--faultbg:#ede9fe;--accent:#2563eb}
        *{box-sizing:border-box}
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--ink);background:var(--bg)}
        header{display:flex;align-items:baseline;gap:1em;padding:.8em 1.5em;background:#111827;color:#f9fafb}
        header h1{font-size:18px;margin:0;font-weight:600}
        #status{color:#9ca3af;font-size:13px}#status.down{color:#fca5a5}
        main{padding:1em 1.5em;display:grid;gap:1em;grid-template-columns:repeat(4,minmax(0,1fr))}
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8em 1em;min-width:0}
        .card h2{font-size:13px;margin:0 0 .5em;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
        .card h2 code{text-transform:none;color:var(--ink);font-size:14px}
        .wide{grid-column:span 3}.full{grid-column:1/-1}
        .chips{display:flex;flex-wrap:wrap;gap:.35em;min-height:1.8em}
        .chip{border-radius:999px;padding:.1em .6em;font-variant-numeric:tabular-nums;background:#f3f4f6}
        .chip b{font-weight:600;margin-right:.3em}
        .s2xx{background:var(--okbg);color:var(--ok)}.s4xx{background:var(--warnbg);color:var(--warn)}
        .s429,.s5xx,.snone{background:var(--badbg);color:var(--bad)}
        .window{margin-top:.6em;font-variant-numeric:tabular-nums}.window b{font-size:20px}
        .window .of{color:var(--muted)}.window.full-window b{color:var(--bad)}
        svg.chart{display:block;width:100%;height:64px;margin-top:.3em;background:#fbfbfc;border:1px solid var(--line);border-radius:4px}
        svg .limit{stroke:var(--bad);stroke-dasharray:4 3;stroke-width:1}svg .area{fill:rgba(37,99,235,.15)}
        svg .line{fill:none;stroke:var(--accent);stroke-width:1.5}svg .mark{fill:var(--bad)}
        .note{color:var(--muted);font-size:12px;margin-top:.3em}
        dl.totals{display:grid;grid-template-columns:auto 1fr;gap:.15em .8em;margin:0;font-variant-numeric:tabular-nums}
        dl.totals dt{color:var(--muted)}dl.totals dd{margin:0;text-align:right;font-weight:600}
        form{display:grid;grid-template-columns:auto 1fr;gap:.35em .6em;align-items:center}
        form label{color:var(--muted);font-size:13px}
        form input[type=number],form select{width:100%;padding:.25em .4em;border:1px solid #d1d5db;border-radius:4px;font:inherit}
        form .pair{display:flex;gap:.4em;align-items:center}
        form .buttons{grid-column:1/-1;display:flex;gap:.5em;margin-top:.4em;align-items:center}
        button{font:inherit;padding:.3em .9em;border-radius:4px;border:1px solid #d1d5db;background:#fff;cursor:pointer}
        button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
        #faults-message{font-size:13px}#faults-message.error{color:var(--bad)}#faults-message.done{color:var(--ok)}
        #faults-summary{margin:0 0 .6em;font-size:13px}#faults-summary.on{color:var(--fault);font-weight:600}
        .scroll{max-height:420px;overflow:auto}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top;font-variant-numeric:tabular-nums}
        th{background:#f9fafb;position:sticky;top:0;font-weight:600;color:var(--muted);font-size:12px}
        td.p{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all}
        tr.throttled td,tr.error td,tr.noanswer td{background:#fff5f5}
        tr.throttled td.status,tr.error td.status,tr.noanswer td.status{color:var(--bad);font-weight:600}
        tr.client td.status{color:var(--warn);font-weight:600}tr.ok td.status{color:var(--ok)}
        .fault{background:var(--faultbg);color:var(--fault);border-radius:4px;padding:0 .4em;font-size:12px;font-weight:600}
        .identify{color:var(--ok)}.track{color:var(--accent)}
        @media (max-width:900px){main{grid-template-columns:1fr}.wide{grid-column:auto}}
        </style></head><body>
        <header><h1>himetrica-devserver</h1><span id="status">connecting…</span></header>
        <main>
          <section class="card" id="ep-track" data-endpoint="track"><h2><code>POST /track</code></h2></section>
          <section class="card" id="ep-identify" data-endpoint="identify"><h2><code>POST /identify</code></h2></section>
          <section class="card" id="ep-user-id" data-endpoint="user-id"><h2><code>GET /user-id</code></h2></section>
          <section class="card"><h2>Totals</h2><dl class="totals" id="totals"></dl></section>

          <section class="card"><h2>Faults</h2>
            <p id="faults-summary">loading…</p>
            <form id="faults" autocomplete="off">
              <label for="f-latency-min">latency ms</label>
              <span class="pair"><input type="number" step="any" id="f-latency-min" name="latencyMin" placeholder="min">–<input type="number" step="any" id="f-latency-max" name="latencyMax" placeholder="max"></span>
              <label for="f-errorRate">error rate</label><input type="number" step="any" id="f-errorRate" name="errorRate" placeholder="0–1">
              <label for="f-errorStatus">error status</label>
              <select id="f-errorStatus" name="errorStatus"><option>500</option><option>502</option><option>503</option></select>
              <label for="f-throttleRate">429 rate</label><input type="number" step="any" id="f-throttleRate" name="throttleRate" placeholder="0–1">
              <label for="f-retryAfter">Retry-After s</label><input type="number" step="any" id="f-retryAfter" name="retryAfter">
              <label for="f-dropRate">drop rate</label><input type="number" step="any" id="f-dropRate" name="dropRate" placeholder="0–1">
              <label for="f-downForSeconds">down for s, from now</label><input type="number" step="any" id="f-downForSeconds" name="downForSeconds" placeholder="0">
              <label for="f-hang">hang</label><span><input type="checkbox" id="f-hang" name="hang"></span>
              <label for="f-seed">seed</label><input type="number" step="1" id="f-seed" name="seed">
              <span class="buttons"><button type="submit" class="primary">Apply</button><button type="button" id="faults-off">All off</button><span id="faults-message"></span></span>
            </form>
          </section>

          <section class="card wide"><h2>Requests <span class="note" id="requests-note"></span></h2>
            <div class="scroll"><table id="requests"><thead><tr><th>#</th><th>time</th><th>method</th><th>endpoint</th><th>status</th><th>fault</th></tr></thead>
            <tbody id="request-rows"></tbody></table></div>
          </section>

          <section class="card full"><h2>Events <span class="note" id="events-note"></span></h2>
            <div class="scroll"><table id="events"><thead><tr><th>#</th><th>time</th><th>endpoint</th><th>identity</th><th>event</th><th>properties / traits</th></tr></thead>
            <tbody id="event-rows"></tbody></table></div>
          </section>
        </main>
        <script>
        "use strict";
        const ROWS = \#(rowsShown), SAMPLES = 60, ENDPOINTS = ["track", "identify", "user-id"];
        const $ = id => document.getElementById(id);
        const SVG = "http://www.w3.org/2000/svg";
        let resets = null, eventsAfter = 0, requestsAfter = 0, formEdited = false;
        const requestRows = new Map(), pending = new Map(), history = {}, last429 = {};

        async function getJSON(path, init) {
          const r = await fetch(path, init);
          const data = await r.json();
          if (!r.ok) throw new Error(data.error || r.statusText);
          return data;
        }
        function el(tag, attrs, text) {
          const e = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
          if (text != null) e.textContent = text;
          return e;
        }
        function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
        function clock(ms) {
          const d = new Date(ms);
          return d.toLocaleTimeString([], {hour12: false}) + "." + String(Math.floor(ms % 1000)).padStart(3, "0");
        }
        function statusClass(status) {
          if (status == null) return "snone";
          if (status === 429) return "s429";
          return "s" + String(status)[0] + "xx";
        }
        function trim(tbody) { while (tbody.rows.length > ROWS) tbody.deleteRow(tbody.rows.length - 1); }

        // Endpoint cards: answers by status, and the current window against the limit.
        function renderEndpoint(endpoint, counts, win) {
          const card = $("ep-" + endpoint);
          let chips = card.querySelector(".chips");
          if (!chips) {
            chips = el("div", {class: "chips"});
            card.append(chips, el("div", {class: "window"}), document.createElementNS(SVG, "svg"), el("div", {class: "note keys"}));
            card.querySelector("svg").setAttribute("class", "chart");
          }
          chips.replaceChildren();
          const statuses = Object.keys(counts || {}).sort();
          if (statuses.length === 0) chips.append(el("span", {class: "note"}, "no requests yet"));
          for (const status of statuses) {
            const chip = el("span", {class: "chip " + statusClass(Number(status)), "data-status": status, "data-count": counts[status]});
            chip.append(el("b", {}, status), "× " + counts[status]);
            chips.append(chip);
          }
          const total429 = (counts || {})["429"] || 0;
          const throttled = last429[endpoint] != null && total429 > last429[endpoint];
          last429[endpoint] = total429;
          const box = card.querySelector(".window"), note = card.querySelector(".keys"), svg = card.querySelector("svg");
          if (!win) {
            box.replaceChildren(el("span", {class: "of"}, "no rate limit"));
            box.removeAttribute("data-accepted");
            svg.replaceChildren(); note.textContent = "";
            return;
          }
          // The limit holds per key: the chart follows the key nearest its limit.
          const busiest = win.keys.reduce((a, b) => (b.accepted > a.accepted ? b : a), {key: null, accepted: 0});
          box.className = "window" + (busiest.accepted >= win.count ? " full-window" : "");
          box.setAttribute("data-accepted", busiest.accepted);
          box.setAttribute("data-limit", win.count);
          box.replaceChildren(el("b", {}, busiest.accepted), el("span", {class: "of"}, " / " + win.count + " in the last " + win.seconds + " s"));
          const keys = win.keys.length > 1 ? "busiest of " + win.keys.length + " keys: " + busiest.key
            : busiest.key ? "key " + busiest.key : "";
          note.textContent = "last minute" + (keys ? " · " + keys : "");
          const samples = history[endpoint] || (history[endpoint] = []);
          samples.push({accepted: busiest.accepted, limit: win.count, throttled});
          if (samples.length > SAMPLES) samples.shift();
          drawChart(svg, samples);
        }
        function drawChart(svg, samples) {
          const W = 240, H = 60, top = 6, peak = Math.max(...samples.map(s => Math.max(s.limit, s.accepted)));
          const x = i => (W * i) / (SAMPLES - 1), y = v => H - ((H - top) * v) / peak;
          const offset = SAMPLES - samples.length;
          const pts = samples.map((s, i) => x(offset + i).toFixed(1) + "," + y(s.accepted).toFixed(1));
          svg.setAttribute("viewBox", "0 0 " + W + " " + H);
          svg.setAttribute("preserveAspectRatio", "none");
          const shape = (tag, attrs) => { const e = document.createElementNS(SVG, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
          const limitY = y(samples[samples.length - 1].limit).toFixed(1);
          const parts = [
            shape("polygon", {class: "area", points: x(offset).toFixed(1) + "," + H + " " + pts.join(" ") + " " + W + "," + H}),
            shape("polyline", {class: "line", points: pts.join(" ")}),
            shape("line", {class: "limit", x1: 0, x2: W, y1: limitY, y2: limitY}),
          ];
          samples.forEach((s, i) => { if (s.throttled) parts.push(shape("rect", {class: "mark", x: x(offset + i) - 1.5, y: 0, width: 3, height: 5})); });
          const title = shape("title", {});
          title.textContent = "requests accepted in the current window, sampled once a second; dashed: the limit; red ticks: 429s";
          svg.replaceChildren(title, ...parts);
        }
        function renderTotals(stats) {
          const items = [["events accepted", stats.events], ["visitors", stats.visitors], ["users", stats.users],
            ["per-visitor drops", stats.perVisitorDrops]];
          for (const [kind, n] of Object.entries(stats.faults)) items.push(["fault: " + kind, n]);
          for (const [endpoint, counts] of Object.entries(stats.endpoints)) {
            if (!ENDPOINTS.includes(endpoint)) items.push([endpoint + " requests", Object.values(counts).reduce((a, b) => a + b, 0)]);
          }
          $("totals").replaceChildren(...items.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {"data-total": k}, v)]));
        }

        // The request log: newest first; a row still waiting for its outcome is fetched again.
        function renderRequests(list) {
          const tbody = $("request-rows");
          for (const r of list.slice(-ROWS)) {
            const done = r.status != null || r.fault != null;
            if (!done && Date.now() - r.receivedAt < 30000) pending.set(r.seq, true); else pending.delete(r.seq);
            let tr = requestRows.get(r.seq);
            if (!tr) {
              if (r.seq <= requestsAfter) continue;  // already left the page
              tr = tbody.insertRow(0);
              requestRows.set(r.seq, tr);
            }
            tr.replaceChildren();
            const mark = r.status === 429 ? "throttled" : r.status >= 500 ? "error" : r.status >= 400 ? "client"
              : r.status != null ? "ok" : done ? "noanswer" : "pending";
            tr.className = mark;
            tr.dataset.seq = r.seq;
            tr.dataset.status = r.status == null ? "" : r.status;
            tr.dataset.fault = r.fault || "";
            cell(tr, r.seq); cell(tr, clock(r.receivedAt)); cell(tr, r.method); cell(tr, r.endpoint);
            cell(tr, r.status != null ? r.status : done ? "no answer" : "…", "status");
            const f = cell(tr, "");
            if (r.fault) f.append(el("span", {class: "fault"}, r.fault));
          }
          if (list.length) requestsAfter = Math.max(requestsAfter, list[list.length - 1].seq);
          while (tbody.rows.length > ROWS) { requestRows.delete(Number(tbody.rows[tbody.rows.length - 1].dataset.seq)); tbody.deleteRow(tbody.rows.length - 1); }
          $("requests-note").textContent = requestsAfter > tbody.rows.length ? "newest " + tbody.rows.length + " of " + requestsAfter : "";
        }

        // The event list, as received.
        function identity(b) {
          if (b.userId != null) return "userId " + b.userId;
          if (b.email != null) return "email " + b.email;
          return "visitorId " + b.visitorId;
        }
        function renderEvents(list) {
          const tbody = $("event-rows");
          if (list.length) eventsAfter = list[list.length - 1].seq;
          for (const e of list.slice(-ROWS)) {
            const tr = tbody.insertRow(0), b = e.body || {};
            tr.dataset.seq = e.seq;
            cell(tr, e.seq);
            cell(tr, clock(e.receivedAt));
            cell(tr, e.endpoint, e.endpoint);
            cell(tr, identity(b) + "\n→ " + e.visitorId + " / " + e.userId, "p");
            cell(tr, e.endpoint === "track" ? b.eventName : "");
            cell(tr, JSON.stringify(e.endpoint === "track" ? (b.properties ?? {}) : b.traits, null, 1), "p");
          }
          trim(tbody);
          $("events-note").textContent = eventsAfter > tbody.rows.length ? "newest " + tbody.rows.length + " of " + eventsAfter : "";
        }

        // Fault settings: the form shows the server's settings until someone edits it.
        const form = $("faults"), fields = ["errorRate", "throttleRate", "retryAfter", "dropRate", "downForSeconds", "seed"];
        // The form shows the outage still to come, not the one set: applying it must not start
        // an outage that is already over again.
        function setField(input, value) { input.value = value; input.defaultValue = value; }
        function renderFaults(f) {
          const on = [];
          if (f.latencyMs) on.push("latency " + f.latencyMs[0] + "–" + f.latencyMs[1] + " ms");
          const pct = share => Math.round(share * 1000) / 10 + "%";
          if (f.errorRate > 0) on.push(pct(f.errorRate) + " " + f.errorStatus);
          if (f.throttleRate > 0) on.push(pct(f.throttleRate) + " 429 (Retry-After " + f.retryAfter + " s)");
          if (f.dropRate > 0) on.push(pct(f.dropRate) + " dropped");
          if (f.hang) on.push("every request hangs");
          if (f.downRemainingSeconds > 0) on.push("down for " + f.downRemainingSeconds.toFixed(1) + " s more");
          const summary = $("faults-summary");
          summary.textContent = on.length ? "active: " + on.join(", ") : "no faults: every request is answered normally";
          summary.className = on.length ? "on" : "";
          if (formEdited) return;
          setField(form.latencyMin, f.latencyMs ? f.latencyMs[0] : "");
          setField(form.latencyMax, f.latencyMs ? f.latencyMs[1] : "");
          const shown = {...f, downForSeconds: Math.ceil(f.downRemainingSeconds * 10) / 10};
          for (const name of fields) setField(form[name], shown[name]);
          for (const option of form.errorStatus.options) option.defaultSelected = option.selected = Number(option.value) === f.errorStatus;
          form.hang.checked = form.hang.defaultChecked = f.hang;
        }
        function formSettings() {
          const body = {}, number = input => (input.value.trim() === "" ? null : Number(input.value));
          const low = number(form.latencyMin), high = number(form.latencyMax);
          if (low != null || high != null) body.latencyMs = [low ?? high, high ?? low];
          for (const name of fields) { const v = number(form[name]); if (v != null) body[name] = v; }
          body.errorStatus = Number(form.errorStatus.value);
          body.hang = form.hang.checked;
          return body;
        }
        async function putFaults(body) {
          const message = $("faults-message");
          try {
            const f = await getJSON("/_dev/faults", {method: "PUT", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
            formEdited = false;
            renderFaults(f);
            message.textContent = "applied"; message.className = "done";
          } catch (err) {
            message.textContent = err.message; message.className = "error";
          }
        }
        form.addEventListener("input", () => {
          formEdited = true;
          $("faults-message").textContent = "edited: not applied yet"; $("faults-message").className = "";
        });
        form.addEventListener("submit", event => { event.preventDefault(); putFaults(formSettings()); });
        $("faults-off").addEventListener("click", () => putFaults({}));

        function clearAll() {
          $("request-rows").replaceChildren(); $("event-rows").replaceChildren();
          requestRows.clear(); pending.clear();
          eventsAfter = requestsAfter = 0;
          for (const k of Object.keys(history)) delete history[k];
          for (const k of Object.keys(last429)) delete last429[k];
        }

        async function poll() {
          try {
            const stats = await getJSON("/_dev/stats");
            if (stats.resets !== resets) { if (resets !== null) clearAll(); resets = stats.resets; }
            const requestsFrom = pending.size ? Math.min(...pending.keys()) - 1 : requestsAfter;
            const [events, requests, windows, faults] = await Promise.all([
              getJSON("/_dev/events?after=" + eventsAfter), getJSON("/_dev/requests?after=" + requestsFrom),
              getJSON("/_dev/windows"), getJSON("/_dev/faults")]);
            for (const endpoint of ENDPOINTS) renderEndpoint(endpoint, stats.endpoints[endpoint], windows[endpoint]);
            renderTotals(stats);
            renderRequests(requests.requests);
            renderEvents(events.events);
            renderFaults(faults);
            $("status").textContent = "live · " + stats.events + " events · updated " + new Date().toLocaleTimeString([], {hour12: false});
            $("status").className = "";
          } catch (err) {
            $("status").textContent = "disconnected: " + err.message;
            $("status").className = "down";
          }
          setTimeout(poll, 1000);
        }
        poll();
        </script></body></html>
        """#
}
#endif
