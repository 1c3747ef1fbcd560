'use strict';
// Test helpers: a himetrica-devserver on a free loopback port, and its /_dev inspection API.
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const KEY = 'hm_sk_test_node_0001';

function devserverPath() {
  const p = process.env.HIMETRICA_DEVSERVER || path.join(ROOT, '.build', 'debug', 'himetrica-devserver');
  if (!fs.existsSync(p)) throw new Error(`dev server not found at ${p}: run 'swift build --product himetrica-devserver' or set HIMETRICA_DEVSERVER`);
  return p;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startDevServer(extraArgs = []) {
  const proc = spawn(devserverPath(), ['--port', '0', '--key', KEY, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; if (stderr.length > 100000) stderr = stderr.slice(-50000); });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev server did not start: ${stderr}`)), 30000);
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      const m = /^listening on (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`dev server exited (${code}): ${stderr}`)); });
  });
  const get = async (p) => {
    const r = await fetch(base + p);
    if (!r.ok) throw new Error(`${p}: ${r.status}`);
    return r.json();
  };
  const send = async (method, p, body) => {
    const r = await fetch(base + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
    return r.text();
  };
  const server = {
    base,
    endpoint: `${base}/api/v1`,
    proc,
    events: async (after = 0) => (await get(`/_dev/events?after=${after}`)).events,
    requests: async () => (await get('/_dev/requests')).requests,
    stats: () => get('/_dev/stats'),
    reset: () => send('POST', '/_dev/reset'),
    faults: (f) => send('PUT', '/_dev/faults', f),
    /** Waits until the server has accepted at least `n` events (or `ms` passed); returns the count. */
    async waitForEvents(n, ms = 30000) {
      const end = Date.now() + ms;
      let count = 0;
      while (Date.now() < end) {
        count = (await server.stats()).events;
        if (count >= n) return count;
        await sleep(50);
      }
      return count;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
  return server;
}

/** Runs `node -e script` (or a file) with a deadline; resolves { code, signal, stdout, stderr, ms }. */
function runNode(args, { env = {}, timeoutMs = 30000 } = {}) {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start });
    });
  });
}

const PKG = path.resolve(__dirname, '..');

module.exports = { KEY, ROOT, PKG, startDevServer, runNode, sleep };
