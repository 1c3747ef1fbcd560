'use strict';
// The npm package as users get it: the tarball `make node-pack` builds (HIMETRICA_NODE_PACK),
// installed with no network into an empty project, used there through require and import.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startDevServer, runNode, KEY } = require('./helpers');

const packDir = process.env.HIMETRICA_NODE_PACK;
const skip = packDir ? false : 'HIMETRICA_NODE_PACK not set: `make test-node` builds the tarball and sets it';

let server;
let project;
before(async () => {
  if (skip) return;
  server = await startDevServer(['--no-limits']);
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'himetrica-pack-'));
});
after(async () => {
  if (server) await server.stop();
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

function tarball() {
  const found = fs.readdirSync(packDir).filter((f) => /^himetrica-.+\.tgz$/.test(f));
  assert.equal(found.length, 1, `one tarball expected in ${packDir}, found ${found}`);
  return path.join(packDir, found[0]);
}

test('the tarball carries the prebuilt addon, the library, the types and the license, and no tests', { skip }, () => {
  const files = execFileSync('tar', ['-tzf', tarball()], { encoding: 'utf8' }).trim().split('\n').sort();
  for (const f of ['package/build/himetrica.node', 'package/build/libhimetrica.so.0', 'package/index.d.ts',
    'package/lib/index.js', 'package/lib/index.mjs', 'package/LICENSE', 'package/package.json']) {
    assert.ok(files.includes(f), `${f} missing from ${files.join(' ')}`);
  }
  assert.deepEqual(files.filter((f) => /test|bench|nocore/.test(f)), []);
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball(), 'package/package.json'], { encoding: 'utf8' }));
  assert.equal(manifest.license, 'Apache-2.0');
  assert.deepEqual([manifest.os, manifest.cpu, manifest.engines.node], [['linux'], ['x64'], '>=18']);
});

test('npm install --offline into an empty project, then require and import work against the dev server', { skip, timeout: 120000 }, async () => {
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // A fresh npm cache and a registry that refuses connections: the install must need neither.
  execFileSync('npm', ['install', tarball(), '--offline', '--no-audit', '--no-fund', '--silent'], {
    cwd: project,
    env: { ...process.env, npm_config_cache: path.join(project, '.npm-cache'), npm_config_registry: 'http://127.0.0.1:9/' },
    timeout: 60000,
  });
  const installed = path.join(project, 'node_modules', 'himetrica');
  assert.ok(fs.existsSync(path.join(installed, 'build', 'himetrica.node')));

  fs.writeFileSync(path.join(project, 'app.cjs'), `
    const himetrica = require('himetrica');
    console.log(require.resolve('himetrica'));
    const c = new himetrica.Client({ endpoint: process.env.HM_ENDPOINT });
    c.track('pack_require', { visitorId: 'pack-v', properties: { via: 'require' } });
    require('node:assert').throws(() => c.track('bad name', { visitorId: 'pack-v' }), himetrica.HimetricaValidationError);
    c.flush({ timeout: 10000 }).then((r) => console.log('require ok', r.ok, himetrica.version));
  `);
  fs.writeFileSync(path.join(project, 'app.mjs'), `
    import { Client, version } from 'himetrica';
    import himetrica from 'himetrica';
    const c = new Client({ endpoint: process.env.HM_ENDPOINT });
    c.identify({ visitorId: 'pack-v', traits: { name: 'Packed' } });
    c.track('pack_import', { visitorId: 'pack-v', properties: { via: 'import' } });
    const user = await c.userId('pack-v', { timeout: 10000 });
    const r = await c.shutdown({ timeout: 10000 });
    console.log('import ok', r.ok, user.startsWith('hm_usr_'), himetrica.Client === Client, version);
  `);
  const env = { HM_ENDPOINT: server.endpoint, HIMETRICA_SECRET_KEY: KEY, NODE_PATH: '' };
  for (const [file, expected] of [['app.cjs', /require ok true \S+/], ['app.mjs', /import ok true true true \S+/]]) {
    const r = await runNode([path.join(project, file)], { env, timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, expected);
    if (file === 'app.cjs') assert.equal(r.stdout.split('\n')[0], path.join(fs.realpathSync(installed), 'lib', 'index.js'));
  }
  await server.waitForEvents(3, 10000);
  const names = (await server.events()).map((e) => e.body.eventName || 'identify').sort();
  assert.deepEqual(names, ['identify', 'pack_import', 'pack_require']);
});
