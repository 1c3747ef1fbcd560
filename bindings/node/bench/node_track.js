'use strict';
// track() call cost next to a pure-JS baseline (JSON.stringify of the same properties + an
// array push), in one run. Timed in batches of BATCH calls (a per-call hrtime would cost more
// than the baseline itself); median and p99 are over batches, divided per call.
//   node bench/node_track.js            (uses the dev server if built, see below)
// The client sends to a himetrica-devserver (HIMETRICA_DEVSERVER or .build/debug) started here,
// so the sender thread runs for real while we measure, as it would in production.
// Then, as a second phase (so the figures above are taken exactly as before), where track's time
// goes, from differences of calls interleaved in one run: the baseline, + the visitor id string
// the benchmark builds, the addon's track straight and through a Client both over
// build/himetrica-nocore.node (the addon with hm_track doing nothing), and the real client.track.
const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { Client } = require('..');

const KEY = 'hm_sk_test_node_0001';
const N = Number(process.env.N || 20000);
const BATCH = 50;
const ROUNDS = 3;

async function devserver() {
  const bin = process.env.HIMETRICA_DEVSERVER || path.resolve(__dirname, '../../../.build/debug/himetrica-devserver');
  if (!fs.existsSync(bin)) return null;
  const proc = spawn(bin, ['--port', '0', '--key', KEY, '--no-limits'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const base = await new Promise((resolve) => {
    readline.createInterface({ input: proc.stdout }).on('line', (l) => {
      const m = /^listening on (\S+)/.exec(l);
      if (m) resolve(m[1]);
    });
  });
  return { proc, endpoint: `${base}/api/v1` };
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p99: q(0.99) };
}

function props(i) {
  return { plan: 'pro', page: '/pricing', n: i, tags: ['a', 'b'], referrer: 'https://example.com/blog/post' };
}

/** Median ns per call of each variant, batches interleaved; variant(i) makes BATCH calls. */
async function interleaved(variants) {
  const ns = variants.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < N; i += BATCH) {
      variants.forEach((variant, k) => {
        const t = process.hrtime.bigint();
        variant(i);
        ns[k].push(Number(process.hrtime.bigint() - t) / BATCH);
      });
    }
    await new Promise((r) => setImmediate(r));
  }
  return ns.map((a) => stats(a.slice(N / BATCH)).median); // the first round warms up
}

/** lib/index.js loaded a second time with the no-core addon in place of the real one. */
function noCoreClientClass() {
  const addon = require.resolve('../build/himetrica.node');
  const lib = require.resolve('..');
  const saved = [require.cache[addon], require.cache[lib]];
  require.cache[addon] = { id: addon, filename: addon, loaded: true, exports: require('../build/himetrica-nocore.node') };
  delete require.cache[lib];
  try {
    return require('..').Client;
  } finally {
    [require.cache[addon], require.cache[lib]] = saved;
  }
}

async function breakdown(client, endpoint) {
  const nocore = require('../build/himetrica-nocore.node');
  const h = nocore.create(KEY, [['endpoint', endpoint]], null, -1);
  // The addon's own calling convention (lib/index.js's common call): handle, event, visitor id, properties.
  if (nocore.track(h, 'bench_event', 'v_0', '{}') !== undefined) throw new Error('nocore track failed');
  const NoCoreClient = noCoreClientClass();
  const fake = new NoCoreClient({ secretKey: KEY, endpoint });
  let sink = [];
  const [base, vid, crossing, wrapper, track] = await interleaved([
    (i) => { for (let j = i; j < i + BATCH; j++) sink.push(JSON.stringify(props(j))); if (sink.length > 100000) sink = []; },
    (i) => { for (let j = i; j < i + BATCH; j++) sink.push(JSON.stringify(props(j)), `v_${j % 500}`); if (sink.length > 100000) sink = []; },
    (i) => { for (let j = i; j < i + BATCH; j++) nocore.track(h, 'bench_event', `v_${j % 500}`, JSON.stringify(props(j))); },
    (i) => { for (let j = i; j < i + BATCH; j++) fake.track('bench_event', { visitorId: `v_${j % 500}`, properties: props(j) }); },
    (i) => { for (let j = i; j < i + BATCH; j++) client.track('bench_event', { visitorId: `v_${j % 500}`, properties: props(j) }); },
  ]);
  await Promise.all([fake.shutdown({ timeout: 0 }), nocore.shutdown(h, 0)]);
  return [
    ['base', 'JSON.stringify + push (the baseline)', base],
    ['vid', 'the visitor id string the benchmark builds', vid - base],
    ['crossing', 'N-API crossing: call + argument copies', crossing - vid],
    ['wrapper', 'JS wrapper: Client.track to the addon', wrapper - crossing],
    ['core', 'the core: hm_track', track - wrapper],
    ['track', '= client.track', track],
  ];
}

async function main() {
  const srv = await devserver();
  const endpoint = srv ? srv.endpoint : 'http://127.0.0.1:9/api/v1';
  const client = new Client({ secretKey: KEY, endpoint, rateLimitTrack: 'none', queueCapacity: 1000000, maxInFlight: 32, logger: () => {} });
  const trackNs = [];
  const baseNs = [];
  let sink = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < N; i += BATCH) {
      // interleaved so both see the same machine state
      let t = process.hrtime.bigint();
      for (let j = i; j < i + BATCH; j++) sink.push(JSON.stringify(props(j)));
      baseNs.push(Number(process.hrtime.bigint() - t) / BATCH);
      if (sink.length > 100000) sink = [];
      t = process.hrtime.bigint();
      for (let j = i; j < i + BATCH; j++) client.track('bench_event', { visitorId: `v_${j % 500}`, properties: props(j) });
      trackNs.push(Number(process.hrtime.bigint() - t) / BATCH);
    }
    await new Promise((r) => setImmediate(r));
  }
  // drop the first round (JIT warm-up)
  const warm = N / BATCH;
  const tr = stats(trackNs.slice(warm));
  const bl = stats(baseNs.slice(warm));
  const f = await client.flush({ timeout: srv ? 60000 : 100 });
  const s = client.stats();
  const parts = await breakdown(client, endpoint);
  await client.shutdown({ timeout: 1000 });
  if (srv) srv.proc.kill('SIGTERM');
  const us = (ns) => (ns / 1000).toFixed(2).padStart(7);
  console.log(`node ${process.version}, ${ROUNDS} rounds x ${N} calls (first round = warm-up), batches of ${BATCH}`);
  console.log(`server: ${srv ? 'himetrica-devserver on loopback' : 'none (unreachable endpoint)'}; delivered ${s.delivered}/${s.queued}, pending after flush ${f.pending}`);
  console.log('                               median µs   p99 µs');
  console.log(`client.track()                  ${us(tr.median)}  ${us(tr.p99)}`);
  console.log(`baseline JSON.stringify+push    ${us(bl.median)}  ${us(bl.p99)}`);
  console.log(`ratio track/baseline            ${(tr.median / bl.median).toFixed(1).padStart(7)}x ${(tr.p99 / bl.p99).toFixed(1).padStart(7)}x`);
  console.log('\nwhere track\'s time goes (second phase, medians)   µs/call');
  for (const [, label, ns] of parts) console.log(`  ${label.padEnd(46)} ${us(ns)}`);
  if (process.env.BENCH_MACHINE) {
    fs.writeFileSync(process.env.BENCH_MACHINE,
      `node_track_median ${(tr.median / 1000).toFixed(3)}\nnode_track_p99 ${(tr.p99 / 1000).toFixed(3)}\n` +
      `node_base_median ${(bl.median / 1000).toFixed(3)}\nnode_base_p99 ${(bl.p99 / 1000).toFixed(3)}\n` +
      parts.map(([key, , ns]) => `node_part_${key} ${(ns / 1000).toFixed(3)}\n`).join(''));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
