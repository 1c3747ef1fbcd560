'use strict';
// The durable spool from Node: a `cluster` of 4 workers sharing one spool sends through one
// sender, keeps the key's limit for the host (0 answers 429), and each worker's flush waits
// for its own events, whichever worker sends them; and a SIGTERM loses nothing.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { startDevServer, runNode, sleep, KEY, PKG } = require('./helpers');

let server;
before(async () => { server = await startDevServer(['--no-limits', '--limit', 'track=100/2']); });
after(async () => { await server.stop(); });

test('a cluster of 4 workers shares one spool and one sender: every event once, no 429', { timeout: 90000 }, async () => {
  await server.reset();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'himetrica-node-spool-'));
  const spool = path.join(dir, 'spool');
  const script = `
    const cluster = require('node:cluster');
    const { Client } = require(${JSON.stringify(PKG)});
    if (cluster.isPrimary) {
      let done = 0, senders = 0;
      for (let w = 0; w < 4; w++) cluster.fork({ WORKER: String(w) });
      cluster.on('message', (_, m) => { senders += m.sender; if (++done === 4) { console.log('senders', senders); } });
      cluster.on('exit', (_, code) => { if (code !== 0) { console.log('worker failed', code); process.exitCode = 1; } });
    } else {
      const w = Number(process.env.WORKER);
      const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, spool: ${JSON.stringify(spool)}, rateLimitTrack: '100/2' });
      for (let i = 0; i < 60; i++) c.track('spooled', { visitorId: 'w' + w, properties: { n: w * 60 + i } });
      c.flush({ timeout: 30000 }).then((r) => {
        const s = c.stats();
        console.log('worker', w, 'pending', r.pending, 'spooled', s.spooled, 'sender', s.sender);
        process.send({ sender: s.sender }, () => c.shutdown({ timeout: 1000 }).then(() => process.exit(r.pending === 0 ? 0 : 2)));
      });
    }
  `;
  const file = path.join(dir, 'cluster.js'); // cluster workers re-run a file, not `node -e`
  fs.writeFileSync(file, script);
  const r = await runNode([file], { env: { HIMETRICA_SECRET_KEY: KEY }, timeoutMs: 60000 });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (let w = 0; w < 4; w++) assert.match(r.stdout, new RegExp(`worker ${w} pending 0 spooled 60`));
  const events = (await server.events()).filter((e) => e.body.eventName === 'spooled');
  const ns = events.map((e) => e.body.properties.n).sort((a, b) => a - b);
  assert.deepEqual(ns, Array.from({ length: 240 }, (_, i) => i));
  const stats = await server.stats();
  assert.equal(stats.endpoints.track['429'] || 0, 0);
  // Per worker (one identity each) the events arrived in call order.
  for (let w = 0; w < 4; w++) {
    const lane = events.filter((e) => e.body.visitorId === 'w' + w).map((e) => e.body.properties.n);
    assert.deepEqual(lane, [...lane].sort((a, b) => a - b));
  }
  console.log(`# node cluster: 240 events from 4 workers via one spool, ${r.ms} ms`);
});

// The sending worker SIGKILLed mid-run: another worker takes the role within 1 s, and what the
// killed one had committed is sent by it (the gunicorn test's Node variant).
test('a cluster whose sending worker is SIGKILLed mid-run: another takes over within 1 s, nothing lost', { timeout: 90000 }, async () => {
  await server.reset();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'himetrica-node-spool-'));
  const spool = path.join(dir, 'spool');
  const script = `
    const cluster = require('node:cluster');
    const { Client } = require(${JSON.stringify(PKG)});
    if (cluster.isPrimary) {
      const workers = Array.from({ length: 4 }, (_, w) => cluster.fork({ WORKER: String(w) }));
      let tracked = 0, killed, killedAt, exited = 0;
      cluster.on('message', (worker, m) => {
        if (m.tracked && ++tracked === 4) console.log('phase 1 tracked');
        if (tracked < 4 || m.sender !== 1) return;
        if (killed === undefined) {
          killed = worker;
          killedAt = Date.now();
          worker.process.kill('SIGKILL');
          console.log('killed', worker.id - 1);
        } else if (worker !== killed && killedAt) {
          console.log('takeover', Date.now() - killedAt, 'ms');
          killedAt = 0;
          for (const w of workers) if (w !== killed) w.send('phase 2');
        }
      });
      cluster.on('exit', (worker, code) => {
        if (worker !== killed && code !== 0) { console.log('worker failed', code); process.exitCode = 1; }
        if (++exited === 4) process.exit();
      });
    } else {
      const w = Number(process.env.WORKER);
      const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, spool: ${JSON.stringify(spool)}, rateLimitTrack: '100/2' });
      const track = (from, to) => { for (let i = from; i < to; i++) c.track('spooled', { visitorId: 'w' + w, properties: { n: w * 60 + i } }); };
      track(0, 30);
      let timer;
      setTimeout(() => { // past the commit window: each worker's first 30 are in the spool
        process.send({ tracked: true });
        timer = setInterval(() => process.send({ sender: c.stats().sender }), 20);
      }, 300);
      process.on('message', async () => {
        clearInterval(timer);
        track(30, 60);
        const r = await c.flush({ timeout: 30000 });
        await c.shutdown({ timeout: 1000 });
        process.exit(r.pending === 0 ? 0 : 2);
      });
    }
  `;
  const file = path.join(dir, 'cluster.js');
  fs.writeFileSync(file, script);
  const r = await runNode([file], { env: { HIMETRICA_SECRET_KEY: KEY }, timeoutMs: 60000 });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const killed = Number(/killed (\d)/.exec(r.stdout)[1]);
  const takeover = Number(/takeover (\d+) ms/.exec(r.stdout)?.[1]);
  assert.ok(takeover < 1000, `takeover ${takeover} ms: ${r.stdout}`);
  const got = await spooledNumbers();
  const expected = Array.from({ length: 240 }, (_, n) => n).filter((n) => Math.floor(n / 60) !== killed || n % 60 < 30);
  assert.deepEqual([...new Set(got)].sort((a, b) => a - b), expected);
  assert.ok(got.length - expected.length <= 8, `${got.length - expected.length} duplicates (at most the in-flight at the kill)`);
  assert.equal((await server.stats()).endpoints.track['429'] || 0, 0);
  console.log(`# node cluster SIGKILL: worker ${killed} killed, takeover ${takeover} ms, ${got.length - expected.length} duplicates`);
});

// SIGTERM skips every exit handler: with a spool, what was accepted is on disk by then (the
// commit window is 10 ms), and the next process to open the spool sends it.
test('SIGTERM with a spool: the process ends by SIGTERM, and after a restart all 600 arrive', { timeout: 90000 }, async () => {
  await server.reset();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'himetrica-node-spool-'));
  const spool = path.join(dir, 'spool');
  const client = `const { Client } = require(${JSON.stringify(PKG)});
    const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, spool: ${JSON.stringify(spool)}, rateLimitTrack: '100/2' });`;
  const env = { ...process.env, HIMETRICA_SECRET_KEY: KEY };
  const first = spawn(process.execPath, ['-e', `${client}
    for (let n = 0; n < 600; n++) c.track('spooled', { visitorId: 'v' + (n % 7), properties: { n } });
    console.log('tracked');
    setTimeout(() => {}, 60000);`], { env });
  let stderr = '';
  first.stderr.on('data', (d) => { stderr += d; });
  const ended = new Promise((resolve) => first.once('exit', (code, signal) => resolve({ code, signal })));
  await lineFrom(first, 'tracked');
  await sleep(500); // past the commit window of the last call
  first.kill('SIGTERM');
  const exit = await ended;
  assert.deepEqual(exit, { code: null, signal: 'SIGTERM' }, stderr);
  const before = (await spooledNumbers()).length;
  assert.ok(before < 600, `the limit held the first process back (${before} arrived)`);

  const second = spawn(process.execPath, ['-e', `${client} console.log('opened'); setTimeout(() => {}, 60000);`], { env });
  try {
    await lineFrom(second, 'opened');
    const end = Date.now() + 30000;
    while (new Set(await spooledNumbers()).size < 600 && Date.now() < end) await sleep(100);
  } finally {
    second.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const got = await spooledNumbers();
  assert.deepEqual([...new Set(got)].sort((a, b) => a - b), Array.from({ length: 600 }, (_, n) => n));
  // Duplicates only for requests in flight at the signal (max_in_flight 8).
  assert.ok(got.length - 600 <= 8, `${got.length - 600} duplicates`);
  assert.equal((await server.stats()).endpoints.track['429'] || 0, 0);
  console.log(`# node SIGTERM: ${before} arrived before the signal, all 600 after the restart, ${got.length - 600} duplicates`);
});

/** Resolves when `child` prints `line` on stdout; rejects if it exits first. */
function lineFrom(child, line) {
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (l) => { if (l === line) resolve(); });
    child.once('exit', (code, signal) => reject(new Error(`the child ended (${code ?? signal}) before printing ${line}`)));
  });
}

async function spooledNumbers() {
  return (await server.events()).filter((e) => e.body.eventName === 'spooled').map((e) => e.body.properties.n);
}
