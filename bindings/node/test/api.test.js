'use strict';
// Every call and option of the Client against a live himetrica-devserver on loopback.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const path = require('node:path');
const { startDevServer, runNode, KEY, PKG, ROOT, sleep } = require('./helpers');
const hm = require('..');
const { Client, HimetricaError, HimetricaValidationError, NotFoundError, ShutDownError } = hm;

let server;
let missing; // a dev server that does not create unknown visitors
before(async () => {
  [server, missing] = await Promise.all([startDevServer(['--no-limits']), startDevServer(['--no-limits', '--no-auto-create'])]);
});
const clients = [];
function client(opts = {}) {
  const c = new Client({ secretKey: KEY, endpoint: server.endpoint, ...opts });
  clients.push(c);
  return c;
}
// Clients first (what they still hold is sent), then the servers.
after(async () => {
  const results = await Promise.all(clients.map((c) => c.shutdown({ timeout: 5000 })));
  await Promise.all([server && server.stop(), missing && missing.stop()]);
  assert.equal(results.reduce((n, r) => n + r.pending, 0), 0, 'nothing left undelivered');
});

const bodyOf = (e) => (typeof e.body === 'string' ? JSON.parse(e.body) : e.body);

async function eventsSince(seq) {
  return (await server.events(seq)).map((e) => ({ ...e, body: bodyOf(e) }));
}
async function lastSeq() {
  const ev = await server.events();
  return ev.length ? ev[ev.length - 1].seq : 0;
}

describe('construction and options', () => {
  test('the secret key comes from HIMETRICA_SECRET_KEY when omitted', async () => {
    const r = await runNode(['-e', `
      const { Client } = require(${JSON.stringify(PKG)});
      const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)} });
      console.log(JSON.stringify(c));`], { env: { HIMETRICA_SECRET_KEY: KEY } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { secretKey: 'hm_sk_…0001', endpoint: server.endpoint });
  });

  test('a missing key is a validation error', () => {
    const saved = process.env.HIMETRICA_SECRET_KEY;
    delete process.env.HIMETRICA_SECRET_KEY;
    try {
      assert.throws(() => new Client({ endpoint: server.endpoint }), HimetricaValidationError);
    } finally {
      if (saved !== undefined) process.env.HIMETRICA_SECRET_KEY = saved;
    }
  });

  test('a malformed key is rejected by the core, and the message does not show it', () => {
    const secret = 'not_a_key_SECRETVALUE1234';
    assert.throws(() => new Client({ secretKey: secret, endpoint: server.endpoint }), (err) => {
      assert.ok(err instanceof HimetricaValidationError);
      assert.match(err.message, /^secretKey: /);
      assert.ok(!err.message.includes('SECRETVALUE'), err.message);
      return true;
    });
  });

  test('every option is accepted', () => {
    const c = client({
      queueCapacity: 5000, maxInFlight: 4, maxAttempts: 5, maxRetryAge: 60000, retryBaseDelay: 100,
      retryMaxDelay: 5000, connectTimeout: 2000, requestTimeout: 5000, exitFlushTimeout: 1500,
      userIdCacheCapacity: 100, notFoundCacheSeconds: 5, maxResponseBytes: 65536, caFile: '',
      allowInsecureHttp: false, rateLimitTrack: '100/1', rateLimitIdentify: { count: 50, seconds: 2 },
      rateLimitUserId: 'none', logger: () => {}, logLevel: 'error', onDelivery: () => {},
    });
    assert.equal(c.stats().queued, 0);
  });

  test('unknown options and bad values name the option (core messages)', () => {
    assert.throws(() => client({ fooBar: 1 }), { name: 'HimetricaValidationError', message: 'foo_bar: is not a known option' });
    // The caller's name is shown escaped and cut after 64 characters.
    assert.throws(() => client({ ['a\nb"c' + 'x'.repeat(5000)]: 1 }), { message: 'a\\nb\\"c' + 'x'.repeat(59) + '…: is not a known option' });
    assert.throws(() => client({ maxInFlight: 0 }), { name: 'HimetricaValidationError', message: /^max_in_flight: / });
    assert.throws(() => client({ rateLimitTrack: 'lots' }), { name: 'HimetricaValidationError', message: /^rate_limit_track: / });
    assert.throws(() => client({ endpoint: 'http://example.com/api/v1' }), HimetricaValidationError); // plain http off loopback
  });

  test('inspect, JSON and errors never show the key', async () => {
    const c = client();
    for (const text of [util.inspect(c), util.inspect(c, { showHidden: true, depth: 10 }), JSON.stringify(c), String(c)]) {
      assert.ok(!text.includes(KEY), text);
    }
    assert.match(util.inspect(c), /hm_sk_…0001/);
    const err = new HimetricaError(`failed with ${KEY}`);
    assert.ok(!err.message.includes(KEY));
    assert.equal(hm.maskKey(KEY), 'hm_sk_…0001');
    assert.equal(typeof hm.version, 'string');
  });

  test('the ESM entry exports the same API', async () => {
    const r = await runNode(['--input-type=module', '-e', `
      import himetrica, { Client, HimetricaValidationError, version } from ${JSON.stringify('file://' + path.join(PKG, 'lib', 'index.mjs'))};
      console.log(typeof Client, typeof HimetricaValidationError, typeof version, himetrica.Client === Client);`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function string true');
  });

  test('the package is relocatable: addon + library copied elsewhere load without LD_LIBRARY_PATH', async () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-node-'));
    try {
      const dest = path.join(dir, 'node_modules', 'himetrica');
      fs.mkdirSync(path.join(dest, 'build'), { recursive: true });
      fs.cpSync(path.join(PKG, 'lib'), path.join(dest, 'lib'), { recursive: true });
      for (const f of ['package.json', 'index.d.ts']) fs.copyFileSync(path.join(PKG, f), path.join(dest, f));
      for (const f of ['himetrica.node', 'libhimetrica.so.0']) fs.copyFileSync(path.join(PKG, 'build', f), path.join(dest, 'build', f));
      fs.writeFileSync(path.join(dir, 'app.mjs'), `
        import { Client, version } from 'himetrica';
        const c = new Client({ endpoint: ${JSON.stringify(server.endpoint)} });
        c.track('relocated', { visitorId: 'v_reloc' });
        console.log(version, (await c.flush({ timeout: 5000 })).pending);`);
      const r = await new Promise((resolve) => {
        require('node:child_process').execFile(process.execPath, [path.join(dir, 'app.mjs')],
          { cwd: dir, env: { PATH: process.env.PATH, HIMETRICA_SECRET_KEY: KEY }, timeout: 20000 },
          (err, stdout, stderr) => resolve({ err, stdout, stderr }));
      });
      assert.equal(r.err, null, r.stderr);
      assert.equal(r.stdout.trim(), `${hm.version} 0`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('package self-reference: require("himetrica") resolves through package.json exports', async () => {
    const r = await runNode(['-e', `
      const a = require(${JSON.stringify(PKG)});
      import(${JSON.stringify(PKG + '/lib/index.mjs')}).then((b) => console.log(a.Client === b.Client));`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true');
  });
});

describe('track, identify, userId', () => {
  test('track with each identity kind, properties, timestamp and session', async () => {
    const seq = await lastSeq();
    const c = client();
    c.track('signup', { visitorId: 'v_api_1', properties: { plan: 'pro', n: 3, nested: { ok: true, list: [1, 'a', null] } }, session: 'new' });
    c.track('page_view', { visitorId: 'v_api_1', timestamp: '2026-11-29T10:00:00Z', session: 'latest' });
    c.track('at_date', { visitorId: 'v_api_1', timestamp: new Date(Date.UTC(2026, 10, 29, 11, 0, 0, 5)) });
    const uid = await c.userId('v_api_1');
    assert.match(uid, /^hm_usr_[0-9a-f]{24}$/);
    c.track('by_user', { userId: uid });
    c.identify({ visitorId: 'v_api_1', traits: { email: 'api1@example.com', name: 'Api One', plan: 'pro' } });
    assert.deepEqual(await c.flush({ timeout: 5000 }), { pending: 0, ok: true });
    c.track('by_email', { email: 'api1@example.com', properties: {} });
    assert.deepEqual(await c.flush({ timeout: 5000 }), { pending: 0, ok: true });

    const ev = await eventsSince(seq);
    const byName = Object.fromEntries(ev.filter((e) => e.endpoint === 'track').map((e) => [e.body.eventName, e]));
    assert.deepEqual(byName.signup.body.properties, { plan: 'pro', n: 3, nested: { ok: true, list: [1, 'a', null] } });
    assert.equal(byName.signup.body.visitorId, 'v_api_1');
    assert.equal(byName.signup.body.session, 'new');
    assert.equal(byName.signup.sessionId, 'hm_ses_1');
    assert.equal(byName.page_view.body.timestamp, '2026-11-29T10:00:00Z');
    assert.equal(byName.page_view.sessionId, 'hm_ses_1');
    assert.equal(byName.at_date.body.timestamp, '2026-11-29T11:00:00.005Z');
    assert.equal(byName.by_user.body.userId, uid);
    assert.equal(byName.by_email.body.email, 'api1@example.com');
    assert.equal(byName.by_email.userId, uid);
    // A track without a timestamp is stamped with its capture time.
    assert.match(byName.signup.body.timestamp, /^\d{4}-\d\d-\d\dT/);
    const ident = ev.find((e) => e.endpoint === 'identify');
    assert.deepEqual(ident.body.traits, { email: 'api1@example.com', name: 'Api One', plan: 'pro' });
    const s = c.stats();
    assert.equal(s.queued, 6);
    assert.equal(s.delivered, 6);
    for (const k of ['rejected', 'retried', 'gaveUp', 'dropped', 'throttled', 'inFlight', 'queueDepth']) assert.equal(s[k], 0, k);
  });

  test('properties: Date as ISO 8601, BigInt as number or string, JSON.stringify rules', async () => {
    const seq = await lastSeq();
    const c = client();
    c.track('types', {
      visitorId: 'v_types',
      properties: {
        at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
        small: 42n,
        big: 2n ** 64n,
        negBig: -(2n ** 60n),
        arr: [1n, undefined, () => 1],
        skipped: undefined,
        fn: () => 1,
        boxed: new String('s'),
        custom: { toJSON: () => 'custom' },
      },
    });
    await c.flush({ timeout: 5000 });
    const [e] = await eventsSince(seq);
    assert.deepEqual(e.body.properties, {
      at: '2026-01-02T03:04:05.006Z', small: 42, big: '18446744073709551616', negBig: '-1152921504606846976',
      arr: [1, null, null], boxed: 's', custom: 'custom',
    });
  });

  test('circular properties are a TypeError naming the path', () => {
    const c = client();
    const props = { a: { b: [1, {}] } };
    props.a.b[1].back = props.a;
    assert.throws(() => c.track('x', { visitorId: 'v', properties: props }), {
      name: 'TypeError', code: 'ERR_HIMETRICA_CIRCULAR',
      message: 'properties.a.b[1].back: circular structure (refers back to properties.a); properties and traits must be a tree',
    });
    const traits = { name: 'n' };
    traits.self = traits;
    assert.throws(() => c.identify({ visitorId: 'v', traits }), { name: 'TypeError', message: /^traits\.self: circular structure/ });
    assert.equal(c.stats().queued, 0);
  });

  test('validation errors carry the core message and queue nothing', () => {
    const c = client();
    assert.throws(() => c.track('signup', {}), { name: 'HimetricaValidationError', message: 'identity: one of userId, email or visitorId is required' });
    assert.throws(() => c.track('', { visitorId: 'v' }), HimetricaValidationError);
    assert.throws(() => c.track('ok', { visitorId: 'v', properties: 'text' }), { message: 'properties: must be a JSON object' });
    assert.throws(() => c.track('ok', { visitorId: 'v', properties: [1] }), { message: 'properties: must be a JSON object' });
    assert.throws(() => c.track('ok', { visitorId: 'v', session: 'old' }), HimetricaValidationError);
    assert.throws(() => c.track('ok', { visitorId: 'v', timestamp: new Date(NaN) }), { message: /^timestamp: / });
    assert.throws(() => c.track('ok', { visitorId: 'v', properties: { big: 'x'.repeat(11000) } }), { message: /^properties: / });
    assert.throws(() => c.identify({ visitorId: 'v' }), { name: 'HimetricaValidationError', message: /^traits: / });
    assert.throws(() => c.track('ok', { visitorId: 42 }), { name: 'TypeError', message: 'visitorId must be a string or a Buffer' });
    assert.equal(c.stats().queued, 0);
  });

  test('userId resolves (and is cached) and rejects with NotFoundError for a 404', async () => {
    const c = client();
    const a = await c.userId('v_lookup');
    const [b, d] = await Promise.all([c.userId('v_lookup'), c.userId('v_lookup', { timeout: 2000 })]);
    assert.match(a, /^hm_usr_/);
    assert.equal(a, b);
    assert.equal(a, d);
    const m = new Client({ secretKey: KEY, endpoint: missing.endpoint });
    clients.push(m);
    await assert.rejects(m.userId('v_unknown_visitor'), (err) => {
      assert.ok(err instanceof NotFoundError && err instanceof HimetricaError);
      assert.equal(err.code, 'HM_ERR_NOT_FOUND');
      return true;
    });
    await assert.rejects(c.userId(''), HimetricaValidationError);
    await assert.rejects(c.userId(undefined), HimetricaValidationError);
    await assert.rejects(c.userId(12), TypeError);
  });

  test('userId times out with a TimeoutError when the server hangs', async () => {
    const hang = await startDevServer(['--hang']);
    try {
      const c = new Client({ secretKey: KEY, endpoint: hang.endpoint, logger: () => {} });
      clients.push(c);
      const t0 = Date.now();
      await assert.rejects(c.userId('v_hang', { timeout: 300 }), { name: 'TimeoutError' });
      assert.ok(Date.now() - t0 < 3000);
      // flush with a timeout resolves (never rejects) with what is still pending
      c.track('stuck', { visitorId: 'v_hang' });
      const r = await c.flush({ timeout: 200 });
      assert.equal(r.ok, false);
      assert.equal(r.pending, 1);
      const s = await c.shutdown({ timeout: 100 });
      assert.equal(s.ok, false);
    } finally {
      await hang.stop();
    }
  });
});

describe('delivery outcomes and lifecycle', () => {
  test('onDelivery and "delivery" events report delivered and rejected requests', async () => {
    const seen = [];
    const emitted = [];
    const c = client({ onDelivery: (o) => seen.push(o) });
    c.on('delivery', (o) => emitted.push(o));
    c.track('ok_event', { visitorId: 'v_deliv' });
    c.track('unknown_user', { userId: 'hm_usr_000000000000000000000000' }); // 404 at the server: rejected
    c.identify({ visitorId: 'v_deliv', traits: { name: 'D' } });
    await c.flush({ timeout: 5000 });
    for (let i = 0; i < 100 && seen.length < 3; i++) await sleep(10);
    assert.equal(seen.length, 3);
    assert.deepEqual(emitted, seen);
    const ok = seen.find((o) => o.body.includes('ok_event'));
    assert.equal(ok.outcome, 'delivered');
    assert.equal(ok.endpoint, 'track');
    assert.equal(ok.status, 202);
    assert.equal(ok.attempts, 1);
    const bad = seen.find((o) => o.body.includes('unknown_user'));
    assert.equal(bad.outcome, 'rejected');
    assert.equal(bad.status, 404);
    assert.ok(bad.message);
    assert.equal(seen.find((o) => o.endpoint === 'identify').status, 200);
    assert.equal(c.stats().rejected, 1);
  });

  test('a throwing delivery handler does not take the process down', async () => {
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    const c = client({ onDelivery: () => { throw new Error('handler bug'); } });
    c.track('x', { visitorId: 'v_throw' });
    await c.flush({ timeout: 5000 });
    for (let i = 0; i < 100 && warnings.length === 0; i++) await sleep(10);
    process.off('warning', onWarning);
    assert.ok(warnings.some((w) => /handler bug/.test(w.message)));
  });

  test('a wrong key: rejected with 401, logged through the logger, key never shown', async () => {
    const lines = [];
    const outcomes = [];
    const wrong = 'hm_sk_wrong_key_SECRET_9999';
    const c = new Client({ secretKey: wrong, endpoint: server.endpoint, logger: (level, msg) => lines.push([level, msg]), onDelivery: (o) => outcomes.push(o) });
    clients.push(c);
    c.track('x', { visitorId: 'v_401' });
    await c.flush({ timeout: 5000 });
    for (let i = 0; i < 100 && (outcomes.length === 0 || lines.length === 0); i++) await sleep(10);
    assert.equal(outcomes[0].status, 401);
    assert.equal(outcomes[0].outcome, 'rejected');
    assert.ok(lines.length > 0);
    for (const [, msg] of lines) assert.ok(!msg.includes('wrong_key'), msg);
    assert.ok(!util.inspect(c).includes('wrong_key'));
    assert.ok(!(outcomes[0].message || '').includes('wrong_key'));
  });

  test('shutdown resolves, is safe to repeat, and later calls fail with ShutDownError', async () => {
    const c = client();
    c.track('before_shutdown', { visitorId: 'v_sd' });
    assert.deepEqual(await c.shutdown({ timeout: 5000 }), { pending: 0, ok: true });
    assert.equal(c.closed, true);
    assert.equal((await c.shutdown()).pending, 0);
    const f = await c.flush({ timeout: 100 });
    assert.equal(f.pending, 0);
    assert.throws(() => c.track('after', { visitorId: 'v_sd' }), ShutDownError);
    assert.throws(() => c.identify({ visitorId: 'v_sd', traits: {} }), ShutDownError);
    await assert.rejects(c.userId('v_sd'), ShutDownError);
    assert.equal(c.stats().delivered, 1);
  });
});

describe('shared validation vectors (Tests/vectors/invalid.json)', () => {
  const vectors = require(path.join(ROOT, 'Tests', 'vectors', 'invalid.json'));
  // JSON text members are passed byte for byte (a Buffer), as are the Hex members' raw bytes.
  const toArgs = (a) => {
    const o = {};
    for (const [k, v] of Object.entries(a)) {
      if (k.endsWith('Hex')) o[k.slice(0, -3)] = Buffer.from(v, 'hex');
      else if (k === 'properties' || k === 'traits') o[k] = Buffer.from(v, 'utf8');
      else o[k] = v;
    }
    return o;
  };
  const call = async (c, v) => {
    const a = toArgs(v.args);
    if (v.call === 'track') return c.track(a.eventName, a);
    if (v.call === 'identify') return c.identify(a);
    return c.userId(a.visitorId, { timeout: 2000 });
  };

  test(`all ${vectors.cases.length} invalid cases report the exact message`, async () => {
    const c = client();
    const wrong = [];
    for (const v of vectors.cases) {
      let got = null;
      try { await call(c, v); } catch (err) { got = err instanceof HimetricaValidationError ? err.message : `${err.name}: ${err.message}`; }
      if (got !== v.error) wrong.push(`${v.name}: got ${JSON.stringify(got)}, want ${JSON.stringify(v.error)}`);
    }
    assert.deepEqual(wrong, []);
    assert.equal(c.stats().queued, 0);
  });

  test(`all ${vectors.valid.length} valid cases are accepted`, async () => {
    const c = client();
    const wrong = [];
    for (const v of vectors.valid) {
      try { await call(c, v); } catch (err) {
        // a valid user-id lookup may still end in a server-side answer, never a validation error
        if (err instanceof HimetricaValidationError) wrong.push(`${v.name}: ${err.message}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.equal((await c.flush({ timeout: 5000 })).pending, 0);
  });
});
