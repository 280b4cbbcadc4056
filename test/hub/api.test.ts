import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../mail-runtime/auth';
import { hubRoutes, type RunningHub } from '../../mail-runtime/hub';
import { ApiError, CLUSTER_PROTOCOL_VERSION, RegisterResponse } from '../../mail-runtime/hub/protocol';
import { api, CLUSTER_TOKEN, startTestHub } from '../helpers/hub';
import { FAST_SCRYPT } from '../helpers/users';

let dir: string;
let hub: RunningHub;
let base: string;
let hash: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-hubapi-'));
  hub = await startTestHub(dir);
  base = hub.url;
  hash = await hashPassword('a good password', FAST_SCRYPT);
});

afterAll(async () => {
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

function expectError(a: { status: number; body: unknown }, status: number, path?: string): void {
  expect(a.status).toBe(status);
  const parsed = ApiError.parse(a.body);
  if (path) expect(parsed.error.problems?.map((p) => p.path)).toContain(path);
}

describe('hub admin API: authentication', () => {
  it('refuses calls without a token, with a wrong one, and with the cluster token (401, JSON body)', async () => {
    for (const token of [null, 'wrong', CLUSTER_TOKEN]) {
      const a = await api(base, 'GET', '/v1/domains', { token });
      expectError(a, 401);
    }
    expect((await api(base, 'GET', '/v1/domains')).status).toBe(200);
  });

  it('cluster endpoints refuse the admin token', async () => {
    expectError(await api(base, 'GET', '/v1/cluster/placement'), 401);
    expect((await api(base, 'GET', '/v1/cluster/placement', { token: CLUSTER_TOKEN })).status).toBe(200);
  });

  it('unknown endpoints and methods answer with a JSON error', async () => {
    expectError(await api(base, 'GET', '/v1/nothing'), 404);
    expectError(await api(base, 'DELETE', '/v1/domains'), 400);
  });
});

describe('hub admin API: bad input is a 4xx naming the field', () => {
  it.each([
    ['POST', '/v1/domains', { name: 'not a domain' }, 'body.name'],
    ['POST', '/v1/domains', { name: 'ok.test', colour: 'red' }, 'body.colour'],
    ['POST', '/v1/domains', { name: 'ok.test', placement: { mode: 'pinned', nodes: [] } }, 'body.placement.nodes'],
    ['POST', '/v1/users', { address: 'no-at-sign', password: 'long enough pw' }, 'body.address'],
    ['POST', '/v1/users', { address: 'a@ok.test' }, 'body.password'],
    ['POST', '/v1/users', { address: 'a@ok.test', password: 'short' }, 'body.password'],
    ['POST', '/v1/users', { address: 'a@ok.test', passwordHash: 'plain' }, 'body.passwordHash'],
    ['POST', '/v1/aliases', { address: 'x@ok.test', targets: [] }, 'body.targets'],
    ['POST', '/v1/placement/move', { address: 'a@ok.test', node: 'Bad_Node' }, 'body.node'],
    ['PUT', '/v1/settings', { settings: { limits: { maxConnections: 0 } } }, 'body.settings.limits.maxConnections'],
  ])('%s %s %j → 400 at %s', async (method, path, body, field) => {
    expectError(await api(base, method, path, { body }), 400, field);
  });

  it('query and path parameters are checked too', async () => {
    expectError(await api(base, 'GET', '/v1/users?limit=0'), 400, 'query.limit');
    expectError(await api(base, 'GET', '/v1/users/not-an-address'), 400, 'params.address');
    expectError(await api(base, 'GET', '/v1/users?cursor=%21%21'), 400, 'query.cursor');
  });

  it('a body that is not JSON, or not declared as JSON, is refused', async () => {
    expectError(await api(base, 'POST', '/v1/domains', { raw: '{', type: 'application/json' }), 400, 'body');
    expectError(await api(base, 'POST', '/v1/domains', { raw: '{}', type: 'text/plain' }), 415);
  });
});

describe('hub admin API: domains, users, aliases, quotas, import', () => {
  it('manages a domain and its users end to end', async () => {
    expect((await api(base, 'POST', '/v1/domains', { body: { name: 'example.test', aliases: ['alias.test'], defaultQuota: { bytes: 5000 } } })).status).toBe(201);
    expectError(await api(base, 'POST', '/v1/domains', { body: { name: 'example.test' } }), 409, 'body.name');
    const add = await api<{ address: string; quota: unknown }>(base, 'POST', '/v1/users', { body: { address: 'Alice@Example.test', password: 'alice password' } });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ address: 'alice@example.test', quota: null, enabled: true });
    expect(JSON.stringify(add.body)).not.toMatch(/scrypt/);
    await api(base, 'POST', '/v1/users', { body: { address: 'bob@example.test', passwordHash: hash, quota: { messages: 10 } } });
    const list = await api<{ users: { address: string }[] }>(base, 'GET', '/v1/users?domain=example.test&search=ali');
    expect(list.body.users.map((u) => u.address)).toEqual(['alice@example.test']);
    expect((await api(base, 'PUT', '/v1/users/alice@example.test/password', { body: { password: 'another password' } })).status).toBe(200);
    expect((await api<{ enabled: boolean }>(base, 'POST', '/v1/users/alice@example.test/disable')).body.enabled).toBe(false);
    expect((await api<{ quota: unknown }>(base, 'PUT', '/v1/users/bob@example.test/quota', { body: { quota: { bytes: 1 } } })).body.quota).toEqual({ bytes: 1 });
    expect((await api(base, 'POST', '/v1/aliases', { body: { address: 'team@example.test', targets: ['bob@example.test'] } })).status).toBe(201);
    const member = await api<{ user: { address: string; enabled: boolean } | null }>(base, 'GET', '/v1/cluster/users/alice@alias.test', { token: CLUSTER_TOKEN });
    expect(member.body.user).toMatchObject({ address: 'alice@example.test', enabled: false });
    const rcpt = await api<{ recipient: unknown }>(base, 'GET', '/v1/cluster/recipients/team@example.test', { token: CLUSTER_TOKEN });
    expect(rcpt.body.recipient).toEqual({ kind: 'alias', address: 'team@example.test', targets: ['bob@example.test'] });
    expect((await api(base, 'DELETE', '/v1/users/alice@example.test')).status).toBe(200);
    expectError(await api(base, 'GET', '/v1/users/alice@example.test'), 404);
    expectError(await api(base, 'DELETE', '/v1/domains/example.test'), 409);
  });

  it('imports users in bulk from CSV; a bad row refuses the import with the line named', async () => {
    await api(base, 'POST', '/v1/domains', { body: { name: 'bulk.test' } });
    const rows = Array.from({ length: 500 }, (_, i) => `u${i}@bulk.test,${hash}`).join('\n');
    const ok = await api<{ imported: number }>(base, 'POST', '/v1/users/import', { raw: `address,passwordHash\n${rows}\n` });
    expect(ok.status).toBe(200);
    expect(ok.body.imported).toBe(500);
    const bad = await api(base, 'POST', '/v1/users/import', { raw: `address,passwordHash\nz1@bulk.test,${hash}\nz2@bulk.test,nope\n` });
    expectError(bad, 400, 'line 3.passwordHash');
    expectError(await api(base, 'GET', '/v1/users/z1@bulk.test'), 404);
    expectError(await api(base, 'POST', '/v1/users/import', { raw: '{}', type: 'text/plain' }), 415);
    const ndjson = [JSON.stringify({ address: 'n1@bulk.test', passwordHash: hash })].join('\n');
    expect((await api(base, 'POST', '/v1/users/import', { raw: ndjson, type: 'application/x-ndjson' })).status).toBe(200);
  });
});

describe('hub admin API: settings are versioned', () => {
  it('validates, diffs and applies; a stale base version is refused', async () => {
    const v = await api<{ ok: boolean; problems: { path: string }[] }>(base, 'POST', '/v1/settings/validate', { body: { settings: { blocklist: { ips: ['not-an-ip'] } } } });
    expect(v.body.ok).toBe(false);
    expect(v.body.problems[0]!.path).toBe('settings.blocklist.ips[0]');
    const doc = { limits: { maxConnections: 50 }, blocklist: { ips: ['192.0.2.0/24'] } };
    const d = await api<{ baseVersion: number; changes: { path: string }[] }>(base, 'POST', '/v1/settings/diff', { body: { settings: doc } });
    expect(d.body.changes.map((c) => c.path).sort()).toEqual(['blocklist.ips', 'blocklist.senders', 'limits.maxConnections']);
    const applied = await api<{ version: number }>(base, 'PUT', '/v1/settings', { body: { settings: doc, baseVersion: d.body.baseVersion } });
    expect(applied.body.version).toBe(d.body.baseVersion + 1);
    expectError(await api(base, 'PUT', '/v1/settings', { body: { settings: doc, baseVersion: d.body.baseVersion } }), 409, 'body.baseVersion');
    const cur = await api<{ version: number; settings: unknown }>(base, 'GET', '/v1/settings');
    expect(cur.body.settings).toMatchObject(doc);
  });
});

describe('hub cluster API', () => {
  it('registers a member, renews its lease, refuses an old incarnation (409), answers the owner of a user', async () => {
    const reg = await api(base, 'POST', '/v1/cluster/register', {
      token: CLUSTER_TOKEN,
      body: { protocol: CLUSTER_PROTOCOL_VERSION, memberId: 'gw-1', role: 'gateway', site: 'main', version: 'test', advertise: '127.0.0.1', ports: { smtp: 1 } },
    });
    expect(reg.status).toBe(200);
    const r = RegisterResponse.parse(reg.body);
    expect(r.timing).toEqual({ heartbeatMs: 1000, deadAfterMs: 3000, leaseMs: 2500 });
    const hb = await api(base, 'POST', '/v1/cluster/heartbeat', { token: CLUSTER_TOKEN, body: { memberId: 'gw-1', incarnation: r.incarnation, counter: 1, applied: { placement: 0, settings: 0 } } });
    expect(hb.status).toBe(200);
    expectError(await api(base, 'POST', '/v1/cluster/heartbeat', { token: CLUSTER_TOKEN, body: { memberId: 'gw-1', incarnation: r.incarnation + 5, counter: 2, applied: { placement: 0, settings: 0 } } }), 409, 'body.incarnation');
    expectError(await api(base, 'POST', '/v1/cluster/register', { token: CLUSTER_TOKEN, body: { protocol: 99, memberId: 'gw-2', role: 'gateway', site: 'main', version: 't', advertise: 'x', ports: {} } }), 400, 'body.protocol');
    const owner = await api<{ node: string | null; epoch: number | null }>(base, 'GET', '/v1/placement/owner/someone@example.test');
    expect(owner.body).toMatchObject({ node: null, epoch: null });
    const members = await api<{ members: { id: string; state: string }[] }>(base, 'GET', '/v1/members');
    expect(members.body.members.find((m) => m.id === 'gw-1')?.state).toBe('live');
  });
});

describe('hub OpenAPI description', () => {
  it('is OpenAPI 3.1, lists every endpoint, and every schema in it compiles as JSON Schema 2020-12', async () => {
    const res = await api<{ openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema?: object }> }; responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>; components: { schemas: Record<string, object> } }>(
      base,
      'GET',
      '/v1/openapi.json',
      { token: null },
    );
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    for (const r of hubRoutes('x')) expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'components', ...doc.components.schemas.ApiError }, '#/components/schemas/ApiError');
    let compiled = 0;
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        const schemas = [op.requestBody?.content['application/json']?.schema, ...Object.values(op.responses).map((r) => r.content?.['application/json']?.schema)];
        for (const s of schemas) {
          if (!s || '$ref' in s) continue;
          expect(() => ajv.compile(s), `${m} ${p}`).not.toThrow();
          compiled++;
        }
      }
    }
    expect(compiled).toBeGreaterThan(30);
  });
});
