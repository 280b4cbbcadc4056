import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adminCall, resolveHub, UsageError } from '../../cli/admin-client';

/** The operator CLI's hub client against small stand-in HTTP servers (the real hub: admin.test.ts). */
let dir: string;
const servers: Server[] = [];

function serve(handler: (path: string, auth: string | undefined) => { status: number; body: unknown }): Promise<string> {
  return new Promise((resolve) => {
    const s = createServer((req, res) => {
      const a = handler(req.url ?? '', req.headers.authorization);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
    servers.push(s);
    s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as { port: number }).port}`));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-admin-client-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

describe('operator CLI hub client', () => {
  it('a standby hub naming the active one: the call is made once more there, with the same token', async () => {
    const active = await serve((path, auth) => ({ status: 200, body: { path, auth } }));
    const standby = await serve(() => ({ status: 503, body: { error: { code: 'not_active', message: 'this hub is not the active one', active } } }));
    const answer = await adminCall({ urls: [standby], token: 't0k' }, 'GET', '/v1/domains', z.object({ path: z.string(), auth: z.string() }));
    expect(answer).toEqual({ path: '/v1/domains', auth: 'Bearer t0k' });
  });

  it('two standbys pointing at each other: one hop, then the hub’s message', async () => {
    let other = '';
    const a = await serve(() => ({ status: 503, body: { error: { code: 'not_active', message: 'this hub is not the active one', active: other } } }));
    other = a;
    const b = await serve(() => ({ status: 503, body: { error: { code: 'not_active', message: 'this hub is not the active one', active: a } } }));
    await expect(adminCall({ urls: [b], token: 't' }, 'GET', '/v1/hub', z.unknown())).rejects.toThrow(`this hub is not the active one (the active hub is ${a})`);
  });

  it('the token: --token-file over MAILFLEET_ADMIN_TOKEN over cluster.json; --hub needs one of the first two', async () => {
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ hub: { url: 'http://127.0.0.1:2580/', adminToken: 'from-json' } }));
    await writeFile(join(dir, 'token'), 'from-file\nsecond line\n');
    expect(await resolveHub({ dir }, {})).toEqual({ urls: ['http://127.0.0.1:2580'], token: 'from-json' });
    expect(await resolveHub({ dir }, { MAILFLEET_ADMIN_TOKEN: 'from-env' })).toEqual({ urls: ['http://127.0.0.1:2580'], token: 'from-env' });
    expect(await resolveHub({ dir, tokenFile: join(dir, 'token') }, { MAILFLEET_ADMIN_TOKEN: 'from-env' })).toEqual({ urls: ['http://127.0.0.1:2580'], token: 'from-file' });
    expect(await resolveHub({ hub: ['http://h:1'], tokenFile: join(dir, 'token') }, {})).toEqual({ urls: ['http://h:1'], token: 'from-file' });
    await expect(resolveHub({ hub: ['http://h:1'] }, {})).rejects.toBeInstanceOf(UsageError);
    await expect(resolveHub({ hub: ['http://h:1', 'h:2'] }, { MAILFLEET_ADMIN_TOKEN: 'x' })).rejects.toThrow('--hub must be an http(s) URL, got "h:2"');
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ hub: { url: 'not a url' } }));
    await expect(resolveHub({ dir }, {})).rejects.toThrow(/cluster\.json is not a cluster\.json mailfleet reads: hub\.url: .*hub\.adminToken/);
  });

  it('every hub listed (cluster.json `hubs`, or --hub repeated): a hub that is down and a standby that names no active hub are passed over for the active one, which later calls ask first', async () => {
    const seen: string[] = [];
    const active = await serve((path) => {
      seen.push(path);
      return { status: 200, body: { path } };
    });
    const lost = await serve(() => ({ status: 503, body: { error: { code: 'not_active', message: 'this hub is not the active one' } } }));
    const down = 'http://127.0.0.1:9';
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ hub: { url: down, adminToken: 't' }, hubs: [{ url: down }, { url: lost }, { url: `${active}/` }] }));
    const target = await resolveHub({ dir }, {});
    expect(target.urls).toEqual([down, lost, active]);
    expect(await adminCall(target, 'GET', '/v1/members', z.object({ path: z.string() }))).toEqual({ path: '/v1/members' });
    expect(target.answered).toBe(active);
    expect(seen).toEqual(['/v1/members']);

    const repeated = await resolveHub({ hub: [lost, active] }, { MAILFLEET_ADMIN_TOKEN: 't' });
    expect(await adminCall(repeated, 'GET', '/v1/domains', z.object({ path: z.string() }))).toEqual({ path: '/v1/domains' });

    // No hub active: every hub's reason, named.
    await expect(adminCall({ urls: [down, lost], token: 't' }, 'GET', '/v1/hub', z.unknown())).rejects.toThrow(/no active hub answered:\n {2}cannot reach the hub at http:\/\/127\.0\.0\.1:9: [^\n]+\n {2}this hub is not the active one$/);
  });
});
