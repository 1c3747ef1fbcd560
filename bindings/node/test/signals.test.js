'use strict';
// SIGTERM/SIGINT with and without flushOnSignals, and the one line about what the exit left
// undelivered: real child processes against the dev server.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const readline = require('node:readline');
const { startDevServer, KEY, PKG } = require('./helpers');

let server;
before(async () => { server = await startDevServer(['--no-limits']); });
after(async () => { await server.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a child that queues 2000 tracks (no limit), prints "queued" and waits. */
async function start({ options = 'flushOnSignals: true', before: pre = '', after: post = '', prefix = [] } = {}) {
  const script = `
    const { Client } = require(${JSON.stringify(PKG)});
    ${pre}
    const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, rateLimitTrack: 'none', exitFlushTimeout: 10000, ${options} });
    ${post}
    for (let i = 0; i < 2000; i++) c.track('signalled', { visitorId: 'v' + (i % 200), properties: { n: i } });
    console.log('queued');
    setTimeout(() => console.log('slept through'), 60000);
  `;
  const argv = [...prefix, process.execPath, '-e', script];
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, HIMETRICA_SECRET_KEY: KEY } });
  const out = { stdout: '', stderr: '', early: [] };
  child.stderr.on('data', (d) => { out.stderr += d; });
  const ended = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      out.stdout += line + '\n';
      if (line === 'queued') resolve();
      else out.early.push(line);
    });
    child.once('exit', () => reject(new Error(`child ended before queueing: ${out.stderr}`)));
  });
  return { child, out, ended };
}

/** Sends `signal` 50 ms after the child queued; resolves to its exit and the ms it took. */
async function signalAndWait({ child, ended }, signal) {
  await sleep(50);
  const sent = Date.now();
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  const result = await ended;
  clearTimeout(timer);
  return { ...result, ms: Date.now() - sent };
}

async function numbers() {
  const events = await server.events();
  return events.map((e) => e.body.properties.n).sort((a, b) => a - b);
}
const ALL = Array.from({ length: 2000 }, (_, i) => i);

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} with flushOnSignals: all 2000 queued arrive, then the process ends by ${signal}`, { timeout: 60000 }, async () => {
    await server.reset();
    const run = await start();
    const r = await signalAndWait(run, signal);
    assert.equal(r.signal, signal, run.out.stderr);
    assert.deepEqual(await numbers(), ALL);
    assert.ok(r.ms < 10000, `ended ${r.ms} ms after the signal (exitFlushTimeout 10000)`);
    assert.doesNotMatch(run.out.stderr, /not delivered/);
    console.log(`# ${signal}: 2000 events delivered, the child ended ${r.ms} ms after the signal`);
  });
}

const canUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;
test('as PID 1 (a container without an init) it exits with 128 + the signal number', { timeout: 60000, skip: !canUnshare && 'needs unshare --pid (root)' }, async () => {
  await server.reset();
  const run = await start({ prefix: ['unshare', '--pid', '--fork', '--kill-child'] });
  // The node process, PID 1 in its namespace: the kernel ignores a default-action signal there.
  const pid1 = Number(fs.readFileSync(`/proc/${run.child.pid}/task/${run.child.pid}/children`, 'utf8').split(' ')[0]);
  await sleep(50);
  process.kill(pid1, 'SIGTERM');
  const r = await run.ended;
  assert.equal(r.code, 128 + os.constants.signals.SIGTERM, run.out.stderr);
  assert.deepEqual(await numbers(), ALL);
});

// The application's own SIGTERM listener, added before or after the client opted in: both
// run, the client flushes and the application decides when the process ends (what the flush
// had not sent by then goes at teardown).
const APP_LISTENER = "process.on('SIGTERM', () => { console.log('app listener'); setTimeout(() => process.exit(3), 200); });";
for (const added of ['before', 'after']) {
  test(`a SIGTERM listener the application added ${added} runs too, and it decides how the process ends`, { timeout: 60000 }, async () => {
    await server.reset();
    const run = await start({ [added]: APP_LISTENER });
    const r = await signalAndWait(run, 'SIGTERM');
    assert.equal(r.code, 3, run.out.stderr);
    assert.match(run.out.stdout, /app listener/);
    assert.deepEqual(await numbers(), ALL);
  });
}

test('without flushOnSignals nothing is installed: SIGTERM has its default action', { timeout: 60000 }, async () => {
  await server.reset();
  const run = await start({
    options: '',
    after: "console.log('listeners', process.listenerCount('SIGTERM'), process.listenerCount('SIGINT'));",
  });
  const r = await signalAndWait(run, 'SIGTERM');
  assert.equal(r.signal, 'SIGTERM');
  assert.deepEqual(run.out.early, ['listeners 0 0']);
});

test('shutdown() removes the listeners it added', { timeout: 30000 }, async () => {
  const { Client } = require(PKG);
  const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
  const c = new Client({ secretKey: KEY, endpoint: server.endpoint, flushOnSignals: true });
  assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], before.map((n) => n + 1));
  await c.shutdown({ timeout: 1000 });
  assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], before);
});

test('at exit, one line tells how many requests were not delivered', { timeout: 60000 }, async () => {
  await server.reset();
  // 200 tracks against a client limit of 50 a minute: 50 leave, 150 cannot within 1 s.
  for (const logger of ['', 'logger: (level, message) => {},']) {
    const script = `
      const { Client } = require(${JSON.stringify(PKG)});
      const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)}, rateLimitTrack: '50/60', exitFlushTimeout: 1000, ${logger} });
      for (let i = 0; i < 200; i++) c.track('exiting', { visitorId: 'v' + i, properties: { n: i } });
    `;
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, HIMETRICA_SECRET_KEY: KEY } });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
    const lines = stderr.split('\n').filter((l) => l.includes('not delivered'));
    assert.deepEqual(lines, [
      'himetrica warning: 150 requests were not delivered before exit (exit_flush_timeout 1 s); set the spool option to keep them across restarts',
    ], `with ${logger || 'the default logger'}: ${stderr}`);
    assert.equal((await server.stats()).events, 50);
    await server.reset();
  }
});
