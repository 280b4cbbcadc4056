import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSaslPlain } from '../../mail-runtime/auth';
import { LineClient } from '../helpers/line-client';
import { imapAppend, imapConnect, imapLogin, message } from '../helpers/imap';
import { startTestNode, type TestNode } from '../helpers/node';
import { ALICE } from '../helpers/users';

/** The node role as one unit: health endpoint, IMAPS, POP3 on the real store, clean shutdown. */
let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ imaps: true, pop3s: true });
});
afterAll(() => node.dispose());

async function get(path: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${node.healthPort}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('health endpoint', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: '{"status":"ok","role":"node","member":"test-node"}' });
    expect(await get('/readyz')).toMatchObject({ status: 200, body: '{"status":"ready","role":"node","member":"test-node"}' });
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    const m = await get('/metrics');
    c.close();
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    expect(m.body).toMatch(/^mailfleet_imap_sessions\{role="node",member="test-node"\} [1-9]/m);
    expect(m.body).toMatch(/^process_cpu_user_seconds_total/m);
    expect((await get('/nope')).status).toBe(404);
  });
});

describe('IMAPS and POP3S (implicit TLS, RFC 8314)', () => {
  it('IMAPS greets over TLS and offers no STARTTLS', async () => {
    const { c, greeting } = await imapConnect(node.imapsPort as number, { tls: true });
    expect(greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN /);
    expect(greeting).not.toContain('STARTTLS');
    expect((await c.command('l', `LOGIN ${ALICE.address} "${ALICE.password}"`)).pop()).toMatch(/^l OK /);
    c.close();
  });

  it('POP3S logs in with AUTH PLAIN', async () => {
    const c = await LineClient.connect(node.pop3sPort as number, { tls: true });
    expect(await c.readLine()).toBe('+OK imap.test POP3 ready');
    expect((await c.pop(`AUTH PLAIN ${encodeSaslPlain(ALICE.address, ALICE.password)}`))[0]).toMatch(/^\+OK Logged in/);
    c.close();
  });
});

describe('POP3 on the store shared with IMAP', () => {
  it('retrieves what IMAP appended; DELE+QUIT is an expunge IMAP sees', async () => {
    const imap = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    const m1 = message('pop one');
    const m2 = message('pop two', '.leading dot\r\nend\r\n');
    await imapAppend(imap, 'a', 'INBOX', m1);
    await imapAppend(imap, 'b', 'INBOX', m2);
    const status = (await imap.command('s', 'STATUS INBOX (MESSAGES UIDVALIDITY)'))[0];
    const uidValidity = /UIDVALIDITY (\d+)/.exec(status)?.[1];
    const total = Number(/MESSAGES (\d+)/.exec(status)?.[1]);
    expect(total).toBeGreaterThanOrEqual(2);

    const pop = await LineClient.connect(node.pop3Port);
    await pop.readLine();
    await pop.pop(`USER ${ALICE.address}`);
    expect((await pop.pop(`PASS ${ALICE.password}`))[0]).toMatch(new RegExp(`^\\+OK Logged in, ${total} messages`));
    const uidl = await pop.pop('UIDL', true);
    expect(uidl.slice(-3)).toEqual([`${total - 1} ${uidValidity}.${total - 1}`, `${total} ${uidValidity}.${total}`, '.']);
    expect(await pop.pop(`RETR ${total}`, true)).toEqual([
      `+OK ${Buffer.byteLength(m2)} octets`,
      ...m2.replace(/\r\n$/, '').split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l)),
      '.',
    ]);
    expect(await pop.pop(`DELE ${total - 1}`)).toEqual([`+OK Message ${total - 1} deleted`]);
    expect((await pop.pop('QUIT'))[0]).toBe(`+OK imap.test POP3 signing off (${total - 1} messages left)`);
    await pop.waitClosed();

    expect(await imap.command('t', 'STATUS INBOX (MESSAGES)')).toEqual([`* STATUS "INBOX" (MESSAGES ${total - 1})`, 't OK STATUS completed']);
    imap.close();
  });
});

describe('shutdown', () => {
  it('says BYE to open sessions, and /readyz stops answering ready', async () => {
    const own = await startTestNode();
    const c = await imapLogin(own.imapPort, ALICE.address, ALICE.password);
    const closing = own.dispose();
    expect(await c.readLine()).toBe('* BYE Server shutting down');
    await c.waitClosed();
    await closing;
    await expect(fetch(`http://127.0.0.1:${own.healthPort}/readyz`)).rejects.toThrow();
  });
});
