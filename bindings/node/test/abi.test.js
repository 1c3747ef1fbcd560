'use strict';
// What the binding takes from the C ABI instead of copying it: the masking rule, the counters
// (one snapshot, named by the generated constants), the ESM names, the version.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { KEY, PKG, runNode } = require('./helpers.js');
const hm = require('..');
const constants = require('../lib/constants.js');

test('maskKey is the core rule: a short key shows none of its characters', () => {
  assert.equal(hm.maskKey(KEY), 'hm_sk_…0001');
  assert.equal(hm.maskKey('hm_sk_abc1234'), 'hm_sk_…');
  assert.equal(hm.maskKey('hm_sk_'), 'hm_sk_…');
  assert.equal(hm.maskKey(''), null);
  const err = new hm.HimetricaError('refused hm_sk_abc1234 here');
  assert.equal(err.message, 'refused hm_sk_… here');
});

test('stats() is one snapshot named by the generated counter list, and it balances', async () => {
  // Nothing listens on this port: the calls are queued and retried, never delivered.
  const c = new hm.Client({ secretKey: KEY, endpoint: 'http://127.0.0.1:9/api/v1', queueCapacity: 3, maxInFlight: 1 });
  try {
    for (let i = 0; i < 6; i++) {
      try { c.track('abi_test', { visitorId: `v${i}` }); } catch (e) { assert.ok(e instanceof hm.QueueFullError); }
    }
    const s = c.stats();
    assert.deepEqual(Object.keys(s), constants.STATS.map((n) => n.replace(/_([a-z])/g, (_, x) => x.toUpperCase())));
    assert.equal(s.queued, 6);
    assert.equal(s.dropped, 3);
    assert.equal(s.queued, s.delivered + s.rejected + s.gaveUp + s.dropped + s.queueDepth + s.inFlight);
  } finally {
    await c.shutdown({ timeout: 0 });
  }
});

test('the version is the one of VERSION, the library and package.json', () => {
  const fs = require('node:fs');
  const file = fs.readFileSync(path.join(PKG, '..', '..', 'VERSION'), 'utf8').trim();
  assert.equal(hm.version, file);
  assert.equal(constants.VERSION, file);
  assert.equal(require('../package.json').version, file);
});

test('the ESM entry has exactly the CommonJS names (none listed twice)', async () => {
  const r = await runNode(['--input-type=module', '-e', `
    import * as esm from ${JSON.stringify('file://' + path.join(PKG, 'lib', 'index.mjs'))};
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)(${JSON.stringify(PKG)});
    const names = Object.keys(esm).filter((n) => n !== 'default').sort();
    const same = names.every((n) => esm[n] === cjs[n]) && esm.default === cjs;
    console.log(JSON.stringify(names) === JSON.stringify(Object.keys(cjs).sort()), same);`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true true');
});
