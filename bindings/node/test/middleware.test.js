'use strict';
// The middleware in a real node:http server (and as Connect-style (req, res, next)).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startDevServer, KEY, sleep } = require('./helpers');
const { Client, middleware, withHimetrica, RequestHandle } = require('..');

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
    const reqs = tracks.filter((t) => t.eventName === 'http_request').map((t) => t.properties);
    assert.equal(reqs.length, 4);
    const item = reqs.find((p) => p.route === '/items/:id');
    assert.equal(item.method, 'GET');
    assert.equal(item.status, 200);
    assert.equal(typeof item.durationMs, 'number');
    assert.equal(reqs.find((p) => p.route === '/boom').status, 500);
    const ident = events.find((e) => e.endpoint === 'identify');
    assert.equal(bodyOf(ident).visitorId, 'v_cookie_1');
    assert.equal(ident.userId, uid);
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
