// CRUD against a running objectos server through the PUBLISHED @objectstack/client
// (17.4.0), the SDK real ObjectStack apps use. Needs Node 22 (the package's engines).
//
//   NODE22=$(scripts/node-client.sh | tail -n1)        # installs Node 22 + client into the cache
//   OBJECTOS_URL=http://127.0.0.1:39123 "$NODE22" tests/client/crud.mjs
//
// The server must serve /work/shared/fixtures/upstream/my-app.json (object my_app_note)
// on a FRESH database: the first sign-up must succeed.
// Env: OBJECTOS_URL (required), OBJECTOS_EMAIL / OBJECTOS_PASSWORD (sign-up user),
// OBJECTOS_CLIENT_DIR (folder whose node_modules holds the client; defaults to the
// cache folder scripts/node-client.sh installs into), OBJECTOS_CLIENT_DEBUG=1 (client logs).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

const cache = process.env.OBJECTOS_CACHE
  ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'objectos');
const clientDir = process.env.OBJECTOS_CLIENT_DIR ?? join(cache, 'node-client');
const baseUrl = process.env.OBJECTOS_URL;
const email = process.env.OBJECTOS_EMAIL ?? 'node-client@example.com';
const password = process.env.OBJECTOS_PASSWORD ?? 'node-client-password-1';
const OBJ = 'my_app_note';

let ObjectStackClient;
try {
  // Resolve the package from the cache folder (through its own "exports" map).
  ({ ObjectStackClient } = createRequire(join(clientDir, 'noop.js'))('@objectstack/client'));
} catch (e) {
  console.error(`cannot load @objectstack/client from ${clientDir}: ${e.message}\nrun scripts/node-client.sh first`);
  process.exit(1);
}
if (!baseUrl) {
  console.error('set OBJECTOS_URL to the base URL of a running objectos server');
  process.exit(1);
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const newClient = () => new ObjectStackClient(
  process.env.OBJECTOS_CLIENT_DEBUG ? { baseUrl, debug: true } : { baseUrl, logger: quiet });

let passed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
  } catch (e) {
    // Later steps build on earlier ones, so the first failure ends the run.
    console.error(`FAILED: ${name}\n${e.stack ?? e}`);
    if (e.httpStatus) console.error(`HTTP ${e.httpStatus} code=${e.code} details=${JSON.stringify(e.details)}`);
    console.log(`node client: ${passed} passed, 1 failed`);
    process.exit(1);
  }
}

const client = newClient();
let alpha, beta;

await step('connect (discovery)', async () => {
  const d = await client.connect();
  assert.equal(d.routes.data, '/api/v1/data');
  assert.equal(d.routes.auth, '/api/v1/auth');
});

await step('auth.register (first user)', async () => {
  const r = await newClient().auth.register({ email, password, name: 'Node Client' });
  assert.equal(typeof r.data.token, 'string');
  assert.equal(r.data.user.email, email);
});

await step('auth.login', async () => {
  const r = await client.auth.login({ email, password });
  assert.equal(r.data.user.email, email);
  assert.ok(r.data.token.length > 0);
  assert.equal(client.token, r.data.token); // the client now sends it as a Bearer token
});

await step('auth.me', async () => {
  const s = await client.auth.me();
  assert.equal(s.user.email, email);
  assert.equal(s.session.token, client.token);
});

await step('data.create x2', async () => {
  alpha = await client.data.create(OBJ, { title: 'client alpha', body: 'first' });
  beta = await client.data.create(OBJ, { title: 'client beta', body: 'second' });
  for (const [r, title] of [[alpha, 'client alpha'], [beta, 'client beta']]) {
    assert.equal(r.object, OBJ);
    assert.equal(typeof r.id, 'string');
    assert.equal(r.record.id, r.id);
    assert.equal(r.record.title, title);
  }
  assert.notEqual(alpha.id, beta.id);
});

await step('data.get', async () => {
  const r = await client.data.get(OBJ, alpha.id);
  assert.equal(r.object, OBJ);
  assert.equal(r.id, alpha.id);
  assert.equal(r.record.title, 'client alpha');
  assert.equal(r.record.body, 'first');
});

await step('data.update', async () => {
  const r = await client.data.update(OBJ, alpha.id, { title: 'client alpha (edited)' });
  assert.equal(r.id, alpha.id);
  assert.equal(r.record.title, 'client alpha (edited)');
  assert.equal(r.record.body, 'first');
  const again = await client.data.get(OBJ, alpha.id);
  assert.equal(again.record.title, 'client alpha (edited)');
});

await step('data.find, array-form filter + sort + limit (GET)', async () => {
  const r = await client.data.find(OBJ, { where: ['title', 'contains', 'client'], orderBy: ['-title'], limit: 1 });
  assert.equal(r.object, OBJ);
  assert.deepEqual(r.records.map((x) => x.title), ['client beta']);
  assert.equal(r.total, 2);
  assert.equal(r.hasMore, true);
  const one = await client.data.find(OBJ, { where: ['title', 'contains', 'alpha'] });
  assert.deepEqual(one.records.map((x) => x.id), [alpha.id]);
  assert.equal(one.hasMore, false);
});

// find() puts an object-form `where` into GET query parameters with String(value),
// which only carries plain equality; operator objects ({$contains: ...}) go through
// data.query(), which POSTs the QueryAST to /data/:object/query.
await step('data.find, object-form equality filter (GET)', async () => {
  const r = await client.data.find(OBJ, { where: { title: 'client beta' } });
  assert.deepEqual(r.records.map((x) => x.id), [beta.id]);
  assert.equal(r.total, 1);
});

await step('data.query, object-form filter + sort + limit (POST)', async () => {
  const r = await client.data.query(OBJ, {
    where: { title: { $contains: 'client' } },
    orderBy: [{ field: 'title', order: 'asc' }],
    limit: 1,
  });
  assert.deepEqual(r.records.map((x) => x.title), ['client alpha (edited)']);
  assert.equal(r.total, 2);
  assert.equal(r.hasMore, true);
});

await step('data.delete', async () => {
  const r = await client.data.delete(OBJ, beta.id);
  assert.deepEqual(r, { object: OBJ, id: beta.id, success: true });
});

await step('data.get after delete -> 404 RECORD_NOT_FOUND', async () => {
  await assert.rejects(client.data.get(OBJ, beta.id), (e) => {
    assert.equal(e.httpStatus, 404);
    assert.equal(e.code, 'RECORD_NOT_FOUND');
    return true;
  });
  const rest = await client.data.find(OBJ, {});
  assert.deepEqual(rest.records.map((x) => x.id), [alpha.id]);
  assert.equal(rest.total, 1);
});

console.log(`node client: ${passed} passed, 0 failed`);
