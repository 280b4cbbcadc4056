import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestUserSpec } from '../helpers/cluster';
import { api, waitFor } from '../helpers/hub';
import { imapLogin } from '../helpers/imap';
import type { LineClient } from '../helpers/line-client';

/**
 * The IMAP `Shared/` namespace and ACL identifiers in a cluster: the hub's
 * cluster settings name the domain's shared-folder administrator (applied
 * live by the node), and SETACL resolves identifiers through the hub's
 * directory (aliases followed, groups refused, a catch-all names nobody).
 * Hub and one node as real processes; raw IMAP.
 */
const DOMAIN = 'shared.test';
let cluster: TestCluster;
let users: TestUserSpec[];
let imap: number;
const open: LineClient[] = [];

beforeAll(async () => {
  ({ cluster, users } = await TestCluster.small({ prefix: 'mf-shared-', domain: DOMAIN, users: 3, nodes: ['node-a'] }));
  imap = cluster.nodes.get('node-a')!.port('imap');
}, 120_000);

afterAll(async () => {
  for (const c of open.splice(0)) c.close();
  await cluster?.stop();
});

async function login(u: TestUserSpec): Promise<LineClient> {
  const c = await imapLogin(imap, u.address, u.password);
  open.push(c);
  return c;
}

const last = (lines: string[]) => lines[lines.length - 1];

describe('Shared/ and ACL identifiers in a cluster', () => {
  it('a settings section naming an outside administrator is refused with 400 naming the field', async () => {
    const url = await cluster.activeHub();
    const r = await api<{ error: { code: string; problems?: { path: string; message: string }[] } }>(url, 'PUT', '/v1/settings', {
      body: { settings: { sharedFolders: { admins: { [DOMAIN]: ['mallory@elsewhere.test'] } } } },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/sharedFolders/);
    expect(JSON.stringify(r.body)).toMatch(/not an address of shared\.test/);
  });

  it('the administrator named in the cluster settings creates Shared/Team; aliases resolve through the hub', async () => {
    const [admin, member, other] = users as [TestUserSpec, TestUserSpec, TestUserSpec];
    const a = await login(admin);
    // Before the settings: nobody administers the namespace.
    expect(last(await a.command('a', 'CREATE "Shared/Team"'))).toMatch(/^a NO \[NOPERM\]/);
    await cluster.admin('PUT', '/v1/settings', { settings: { sharedFolders: { admins: { [DOMAIN]: [admin.address] } } } });
    // Applied live: bounded wait for the node to take the new version.
    await waitFor(async () => /^c OK/.test(last(await a.command('c', 'CREATE "Shared/Team"')) ?? ''), 'Shared/Team created by the administrator', 30_000);

    await cluster.admin('POST', '/v1/aliases', { address: `desk@${DOMAIN}`, targets: [member.address] });
    await cluster.admin('POST', '/v1/aliases', { address: `all@${DOMAIN}`, targets: [member.address, other.address] });
    await cluster.admin('PATCH', `/v1/domains/${DOMAIN}`, { catchAll: admin.address });

    expect(await a.command('s', `SETACL "Shared/Team" desk@${DOMAIN} lr`)).toEqual(['s OK SETACL completed']);
    expect((await a.command('g', 'GETACL "Shared/Team"'))[0]).toBe(`* ACL "Shared/Team" "#shared@${DOMAIN}" "lrswipkxteacd" "${member.address}" "lr"`);
    expect(await a.command('t', `SETACL "Shared/Team" all@${DOMAIN} lr`)).toEqual([`t NO [CANNOT] all@${DOMAIN} names 2 users (an alias with several targets): grant each user instead`]);
    expect(await a.command('u', `SETACL "Shared/Team" nobody@${DOMAIN} lr`)).toEqual([
      `u NO No user nobody@${DOMAIN} in the directory: rights are granted to users, their single-user aliases, or "anyone"`,
    ]);

    const m = await login(member);
    expect(await m.command('l', 'LIST "" "Shared/*"')).toEqual(['* LIST (\\HasNoChildren) "/" "Shared/Team"', 'l OK LIST completed']);
    expect(last(await m.command('x', 'SELECT "Shared/Team"'))).toBe('x OK [READ-ONLY] SELECT completed');
    const o = await login(other);
    expect(await o.command('l', 'LIST "" "Shared/*"')).toEqual(['l OK LIST completed']);
  });

  it('with the hub away, SETACL cannot check an identifier: NO [UNAVAILABLE], nothing changed; anyone needs no look-up', async () => {
    const [admin, member] = users as [TestUserSpec, TestUserSpec];
    const a = await login(admin);
    await cluster.hubs.get('hub-0')!.stop();
    expect(await a.command('s', `SETACL "Shared/Team" ${member.address} lrs`)).toEqual([`s NO [UNAVAILABLE] Cannot look ${member.address} up in the directory now; try again later`]);
    expect((await a.command('g', 'GETACL "Shared/Team"'))[0]).toBe(`* ACL "Shared/Team" "#shared@${DOMAIN}" "lrswipkxteacd" "${member.address}" "lr"`);
    expect(await a.command('t', 'SETACL "Shared/Team" anyone l')).toEqual(['t OK SETACL completed']);
  });
});
