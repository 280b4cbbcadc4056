import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { z } from 'zod';

/**
 * What the tests of `mailfleet up --local` read from the `cluster.json` the
 * launcher writes (cli/local/launcher.ts): validated, so a field the
 * launcher stopped writing fails here by name instead of as `undefined`
 * three calls later.
 */
const LocalClusterJson = z.object({
  hub: z.object({ url: z.string(), adminToken: z.string() }),
  hubs: z.array(z.object({ id: z.string(), url: z.string(), pid: z.number().nullable() })),
  demoUsers: z.array(z.object({ address: z.string(), password: z.string(), servedBy: z.string().nullable() })),
  members: z.array(z.object({ id: z.string(), role: z.string(), pid: z.number().nullable(), endpoints: z.record(z.string(), z.string()) })),
});
export type LocalClusterJson = z.infer<typeof LocalClusterJson>;
export type DemoUser = LocalClusterJson['demoUsers'][number];

/** `<dir>/cluster.json`, parsed (the launcher renames it into place, so it is never half written). */
export function readClusterJson(dir: string): LocalClusterJson {
  const file = join(dir, 'cluster.json');
  const parsed = LocalClusterJson.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The port of a role's endpoint (`imap` of the proxy, `smtp` of the gateway), from its `host:port` in cluster.json. */
export function endpointPort(c: LocalClusterJson, role: string, name: string): number {
  const hostPort = c.members.find((m) => m.role === role)?.endpoints[name];
  const port = Number(hostPort?.split(':')[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`cluster.json: no ${role} endpoint "${name}" (got ${JSON.stringify(hostPort)})`);
  return port;
}

/** Message-IDs in a user's INBOX, read with imapflow through the cluster's proxy. Throws when the login or the read fails (callers polling a condition catch). */
export async function proxyInboxIds(c: LocalClusterJson, u: { address: string; password: string }): Promise<string[]> {
  const flow = new ImapFlow({ host: '127.0.0.1', port: endpointPort(c, 'proxy', 'imap'), secure: false, auth: { user: u.address, pass: u.password }, logger: false, tls: { rejectUnauthorized: false } });
  // A connection the proxy drops mid-read (a member restarting) must not become an unhandled 'error' event.
  flow.on('error', () => undefined);
  await flow.connect();
  try {
    const box = await flow.mailboxOpen('INBOX');
    if (box.exists === 0) return [];
    const ids: string[] = [];
    for await (const m of flow.fetch('1:*', { envelope: true })) ids.push(m.envelope?.messageId ?? '');
    return ids;
  } finally {
    await flow.logout().catch(() => undefined);
  }
}
