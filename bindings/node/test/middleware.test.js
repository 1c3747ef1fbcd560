'use strict';
// The middleware in a real node:http server (and as Connect-style (req, res, next)).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startDevServer, KEY, sleep } = require('./helpers');
const path = require('node:path');
const { Client, middleware, withHimetrica, RequestHandle } = require('..');
const requestTracking = require('../lib/request-tracking.js');

// The request-tracking contract of every Himetrica middleware.
const CONTRACT = require(path.join(__dirname, '..', '..', '..', 'Tests', 'vectors', 'request-tracking.json'));

/** How a received request event breaks the contract: [] when it keeps it. */
function violations(body, method, route, status) {
  const found = [];
  const expected = status >= CONTRACT.serverErrorFromStatus ? CONTRACT.serverErrorEventName : CONTRACT.eventName;
  const p = body.properties || {};
  if (body.eventName !== expected) found.push(`eventName ${body.eventName} != ${expected}`);
  if (JSON.stringify(Object.keys(p).sort()) !== JSON.stringify(CONTRACT.propertyNames)) found.push(`properties ${Object.keys(p)}`);
  if (p.method !== method) found.push(`method ${p.method}`);
  if (p.route !== route) found.push(`route ${p.route} != ${route}`);
  if (p.status !== status) found.push(`status ${p.status}`);
  const scaled = p.durationMs * 10 ** CONTRACT.durationDecimals;
  if (typeof p.durationMs !== 'number' || p.durationMs < 0 || Math.abs(scaled - Math.round(scaled)) > 1e-6) {
    found.push(`durationMs ${p.durationMs}`);
  }
  return found;
}

test('the contract: defaults, excluded paths, events and sampling (Tests/vectors/request-tracking.json)', () => {
  const defaults = requestTracking.trackingOptions({});
  assert.equal(defaults.eventName, CONTRACT.eventName);
  assert.equal(defaults.serverErrorEventName, CONTRACT.serverErrorEventName);
  assert.equal(defaults.sampleRate, CONTRACT.defaults.sampleRate);
  assert.deepEqual(defaults.excludedPaths, CONTRACT.defaults.excludedPaths);
  for (const c of CONTRACT.excludedPaths) {
    assert.equal(!requestTracking.isExcluded(c.excluded, c.path), c.tracked, `${c.excluded} ${c.path}`);
  }
  for (const c of CONTRACT.events) {
    const tracking = requestTracking.trackingOptions({ sampleRate: c.sampleRate });
    assert.equal(requestTracking.eventFor(tracking, c.status, c.draw), c.event, JSON.stringify(c));
  }
  assert.deepEqual(Object.keys(requestTracking.properties('GET', null, 200, 1.2345678)).sort(), CONTRACT.propertyNames);
  assert.throws(() => middleware(client, { sampleRate: 2 }), RangeError);
});

let server;
let client;
before(async () => {
  server = await startDevServer(['--no-limits']);
  client = new Client({ secretKey: KEY, endpoint: server.endpoint, rateLimitTrack: 'none' });
});
after(async () => { await client.shutdown({ timeout: 2000 }); await server.stop(); });

function listen(handler) {
  return new Promise((resolve) => {
    const s = http.createServer(handler);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const bodyOf = (e) => (typeof e.body === 'string' ? JSON.parse(e.body) : e.body);

test('node:http server: the cookie visitor reaches handlers and request tracking', async () => {
  await server.reset();
  const app = withHimetrica(client, async (req, res) => {
    assert.ok(req.himetrica instanceof RequestHandle);
    if (req.url.startsWith('/signup')) {
      req.himetrica.track('signup', { properties: { plan: 'pro' } });
      req.himetrica.identify({ traits: { name: 'Cookie Visitor' } });
    }
    if (req.url === '/whoami') {
      const uid = await req.himetrica.userId();
      res.end(uid);
      return;
    }
    if (req.url === '/boom') { res.statusCode = 500; res.end('no'); return; }
    res.end(`visitor=${req.himetrica.visitorId}`);
  }, { trackRequests: true, pathTemplate: (req) => req.url.split('?')[0].replace(/\/\d+/g, '/:id') });
  const web = await listen(app);
  const base = `http://127.0.0.1:${web.address().port}`;
  try {
    const headers = { cookie: 'theme=dark; hm_vid=v_cookie_1; other=1' };
    assert.equal(await (await fetch(`${base}/signup?x=1`, { headers })).text(), 'visitor=v_cookie_1');
    assert.equal(await (await fetch(`${base}/items/42`, { headers })).text(), 'visitor=v_cookie_1');
    assert.equal((await fetch(`${base}/boom`, { headers })).status, 500);
    const uid = await (await fetch(`${base}/whoami`, { headers })).text();
    assert.match(uid, /^hm_usr_/);
    // no cookie: the request is served, nothing is tracked for it
    assert.equal(await (await fetch(`${base}/items/7`)).text(), 'visitor=null');
    await sleep(50);
    await client.flush({ timeout: 5000 });
    const events = await server.events();
    const tracks = events.filter((e) => e.endpoint === 'track').map(bodyOf);
    for (const t of tracks) assert.equal(t.visitorId, 'v_cookie_1');
    const signup = tracks.find((t) => t.eventName === 'signup');
    assert.deepEqual(signup.properties, { plan: 'pro' });
    const reqs = tracks.filter((t) => t.eventName === CONTRACT.eventName);
    assert.equal(reqs.length, 3);
    assert.deepEqual(violations(reqs.find((t) => t.properties.route === '/items/:id'), 'GET', '/items/:id', 200), []);
    const errors = tracks.filter((t) => t.eventName === CONTRACT.serverErrorEventName);
    assert.equal(errors.length, 1);
    assert.deepEqual(violations(errors[0], 'GET', '/boom', 500), []);
    const ident = events.find((e) => e.endpoint === 'identify');
    assert.equal(bodyOf(ident).visitorId, 'v_cookie_1');
    assert.equal(ident.userId, uid);
  } finally {
    await new Promise((r) => web.close(r));
  }
});

test('node:http without a route pattern: route null, excluded paths and sampling as the contract says', async () => {
  await server.reset();
  const app = withHimetrica(client, (req, res) => {
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end('ok');
  }, { trackRequests: true, excludedPaths: ['/health'], sampleRate: 0 });
  const web = await listen(app);
  const base = `http://127.0.0.1:${web.address().port}`;
  try {
    const headers = { cookie: 'hm_vid=v_contract' };
    for (const p of ['/health', '/health/db', '/healthz', '/fail']) await (await fetch(`${base}${p}`, { headers })).text();
    await sleep(50);
    await client.flush({ timeout: 5000 });
    const tracks = (await server.events()).filter((e) => e.endpoint === 'track').map(bodyOf);
    // sampleRate 0 leaves /healthz out; /health and below are excluded; the 503 is always tracked
    assert.equal(tracks.length, 1);
    assert.deepEqual(violations(tracks[0], 'GET', null, 503), []);
  } finally {
    await new Promise((r) => web.close(r));
  }
});

test('Connect-style (req, res, next): header fallback, Express route, never breaks a request', async () => {
  await server.reset();
  const mw = middleware(client, { header: 'X-HM-Visitor', trackRequests: true, eventName: 'req' });
  const web = await listen((req, res) => {
    mw(req, res, () => {
      req.route = { path: '/users/:id' }; // what Express sets once a route matched
      req.baseUrl = '/api';
      res.end(String(req.himetrica.visitorId));
    });
  });
  const base = `http://127.0.0.1:${web.address().port}`;
  try {
    assert.equal(await (await fetch(`${base}/api/users/9`, { headers: { 'x-hm-visitor': 'v_header' } })).text(), 'v_header');
    await sleep(50);
    await client.flush({ timeout: 5000 });
    const [e] = (await server.events()).map(bodyOf);
    assert.equal(e.eventName, 'req');
    assert.equal(e.visitorId, 'v_header');
    assert.equal(e.properties.route, '/api/users/:id');
  } finally {
    await new Promise((r) => web.close(r));
  }
  // Broken inputs: no headers, a throwing pathTemplate, an invalid visitor id: next() still runs.
  const errors = [];
  const bad = middleware(client, { trackRequests: true, pathTemplate: () => { throw new Error('template bug'); }, onError: (e) => errors.push(e) });
  let called = 0;
  bad({}, {}, () => { called++; });
  const { EventEmitter } = require('node:events');
  const res = new EventEmitter();
  bad({ headers: { cookie: 'hm_vid=v_x' }, method: 'GET', url: '/' }, res, () => { called++; });
  res.emit('finish');
  const res2 = new EventEmitter();
  const good = middleware(client, { trackRequests: true, onError: (e) => errors.push(e) });
  good({ headers: { cookie: `hm_vid=${'x'.repeat(600)}` }, method: 'GET', url: '/' }, res2, () => { called++; });
  res2.emit('finish');
  assert.equal(called, 3);
  assert.equal(errors.length, 2);
  assert.match(errors[0].message, /template bug/);
  assert.equal(errors[1].name, 'HimetricaValidationError');
  assert.throws(() => middleware({}), TypeError);
});
