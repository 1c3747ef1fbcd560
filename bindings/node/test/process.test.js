'use strict';
// Process and thread behaviour: exit without flush delivers, a bare client does not hold the
// process, worker threads get their own client.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDevServer, runNode, KEY, PKG } = require('./helpers');

let server;
before(async () => { server = await startDevServer(['--no-limits', '--latency-ms', '5']); });
after(async () => { await server.stop(); });

test('a child that tracks 2,000 events and returns without flushing delivers them all, within the flush budget', { timeout: 60000 }, async () => {
  await server.reset();
  const script = `
    const { Client } = require(${JSON.stringify(PKG)});
    const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, rateLimitTrack: 'none', exitFlushTimeout: 8000, maxInFlight: 16 });
    for (let i = 0; i < 2000; i++) c.track('exit_event', { visitorId: 'v_exit_' + (i % 100), properties: { i } });
    console.log('queued', c.stats().queued);
    // no flush, no shutdown: the module simply ends
  `;
  const r = await runNode(['-e', script], { env: { HIMETRICA_SECRET_KEY: KEY }, timeoutMs: 30000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /queued 2000/);
  assert.ok(r.ms < 8000 + 3000, `exited after ${r.ms} ms`);
  const n = await server.waitForEvents(2000, 5000);
  assert.equal(n, 2000);
  console.log(`# exit flush: 2000 events delivered, child exited after ${r.ms} ms`);
});

test('process.exit() right after tracking still delivers (the core atexit flush)', { timeout: 60000 }, async () => {
  await server.reset();
  const script = `
    const { Client } = require(${JSON.stringify(PKG)});
    const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, rateLimitTrack: 'none' });
    for (let i = 0; i < 200; i++) c.track('exit_now', { visitorId: 'v_exitnow', properties: { i } });
    process.exit(0);
  `;
  const r = await runNode(['-e', script], { env: { HIMETRICA_SECRET_KEY: KEY } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await server.waitForEvents(200, 5000), 200);
});

test('the exit flush is bounded by exitFlushTimeout when the server hangs', { timeout: 60000 }, async () => {
  const hang = await startDevServer(['--hang']);
  try {
    const script = `
      const { Client } = require(${JSON.stringify(PKG)});
      const c = new Client({ endpoint: ${JSON.stringify(hang.endpoint)}, exitFlushTimeout: 1000, logger: () => {} });
      c.track('never', { visitorId: 'v_hang_exit' });
    `;
    const r = await runNode(['-e', script], { env: { HIMETRICA_SECRET_KEY: KEY } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 1000 + 2500, `exited after ${r.ms} ms`);
  } finally {
    await hang.stop();
  }
});

test('a script that only creates a client (with delivery listeners) exits at once', { timeout: 30000 }, async () => {
  const script = `
    const { Client } = require(${JSON.stringify(PKG)});
    const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, onDelivery: () => {}, logger: () => {} });
    c.on('delivery', () => {});
  `;
  const node0 = await runNode(['-e', '0']);
  const r = await runNode(['-e', script], { env: { HIMETRICA_SECRET_KEY: KEY } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms < node0.ms + 1000, `took ${r.ms} ms (bare node ${node0.ms} ms)`);
});

test('a worker thread uses its own client; both deliver; the worker ends cleanly', { timeout: 60000 }, async () => {
  await server.reset();
  const { Worker } = require('node:worker_threads');
  const { Client } = require('..');
  const main = new Client({ secretKey: KEY, endpoint: server.endpoint, rateLimitTrack: 'none' });
  main.track('from_main', { visitorId: 'v_main' });
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Client } = require(workerData.pkg);
    const c = new Client({ secretKey: workerData.key, endpoint: workerData.endpoint, rateLimitTrack: 'none' });
    const seen = [];
    c.on('delivery', (o) => seen.push(o.outcome));
    for (let i = 0; i < 50; i++) c.track('from_worker', { visitorId: 'v_worker', properties: { i } });
    c.userId('v_worker').then(async (uid) => {
      const r = await c.flush({ timeout: 10000 });
      await new Promise((res) => setTimeout(res, 50));
      parentPort.postMessage({ uid, r, seen: seen.length, stats: c.stats() });
      // a last event left for the worker's teardown to send
      c.track('worker_teardown', { visitorId: 'v_worker' });
    });
  `;
  const w = new Worker(code, { eval: true, workerData: { pkg: PKG, key: KEY, endpoint: server.endpoint } });
  const msg = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  const exitCode = await new Promise((resolve) => w.once('exit', resolve));
  assert.equal(exitCode, 0);
  assert.match(msg.uid, /^hm_usr_/);
  assert.deepEqual(msg.r, { pending: 0, ok: true });
  assert.equal(msg.stats.delivered, 50);
  assert.equal(msg.seen, 50);
  assert.deepEqual(await main.flush({ timeout: 5000 }), { pending: 0, ok: true });
  assert.equal(await server.waitForEvents(52, 5000), 52);
  const names = (await server.events()).map((e) => (typeof e.body === 'string' ? JSON.parse(e.body) : e.body).eventName);
  assert.ok(names.includes('worker_teardown'));
  assert.ok(names.includes('from_main'));
  await main.shutdown();
});
