import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueMemberCertificate } from '../../mail-runtime/hub/ca';
import { waitFor } from '../helpers/hub';
import { TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { imapLoginReply } from '../helpers/imap';
import { LineClient } from '../helpers/line-client';
import { makeCa } from '../helpers/pki';

/**
 * The proxy → node hop over TLS verified by the cluster CA (issue 12):
 * real hub, node and proxy processes on loopback. The proxy has the
 * cluster CA (`clusterTls.caFile`), so it sends its PROXY v2 header and
 * then starts TLS on the node's implicit-TLS port, asking for the node's
 * member id by SNI; node-a presents a certificate the cluster CA issued
 * for its member id, node-b one from another CA. The nodes refuse
 * plaintext logins everywhere (`plaintextAuth: never`), so a login that
 * reaches node-a at all proves the hop was TLS.
 */
const START_MS = 240_000;
/** Bound on one answer through the proxy (connect + TLS to the node + login on a loaded machine): a bound, not a timing. */
const ANSWER_MS = 30_000;
let cluster: TestCluster | undefined;
let pki: string;
let proxy: RunningMember;
let logDir: string;
let onA: TestUserSpec;
let onB: TestUserSpec;

afterAll(async () => {
  await cluster?.stop();
  if (pki) await rm(pki, { recursive: true, force: true });
  if (logDir) await rm(logDir, { recursive: true, force: true });
});

/** One IMAP LOGIN through `port`: the tagged reply. */
const imapLogin = (port: number, u: TestUserSpec): Promise<string> => imapLoginReply(port, u.address, u.password, ANSWER_MS);

beforeAll(async () => {
  pki = await mkdtemp(join(tmpdir(), 'mf-backend-tls-pki-'));
  const clusterCa = await makeCa('test cluster CA');
  const rogueCa = await makeCa('some other CA');
  const files = async (name: string, pem: { certPem: string; keyPem: string }) => {
    const certFile = join(pki, `${name}.crt`);
    const keyFile = join(pki, `${name}.key`);
    await writeFile(certFile, pem.certPem);
    await writeFile(keyFile, pem.keyPem, { mode: 0o600 });
    return { certFile, keyFile };
  };
  const caFile = join(pki, 'ca.crt');
  await writeFile(caFile, clusterCa.cert);
  // Certificates from the cluster CA, made here with their keys (as a deployment's role certificates are).
  const a = await files('node-a', await issueMemberCertificate({ certPem: clusterCa.cert, keyPem: clusterCa.key }, { memberId: 'node-a', names: ['127.0.0.1'] }));
  const b = await files('node-b', await issueMemberCertificate({ certPem: rogueCa.cert, keyPem: rogueCa.key }, { memberId: 'node-b', names: ['127.0.0.1'] }));

  const c = (cluster = await TestCluster.create('mf-backend-tls-'));
  await c.planHubs(1);
  await c.startHub(0);
  const lo = { host: '127.0.0.1', port: 0 };
  const node = (tls: { certFile: string; keyFile: string }) => ({
    listen: { imap: lo, imaps: lo, pop3: lo, pop3s: lo, lmtp: lo, submission: lo, smtps: lo },
    plaintextAuth: 'never',
    proxyProtocolFrom: ['127.0.0.1/32'],
    clusterTls: { caFile, ...tls },
  });
  await c.startNode('node-a', node(a));
  await c.startNode('node-b', node(b));
  const users = await c.addUsers('example.test', 2);
  [onA, onB] = users as [TestUserSpec, TestUserSpec];
  await c.admin('POST', '/v1/placement/move', { address: onA.address, node: 'node-a' });
  await c.admin('POST', '/v1/placement/move', { address: onB.address, node: 'node-b' });
  await c.waitPlacement((p) => p.ownerOf(onA.address) === 'node-a' && p.ownerOf(onB.address) === 'node-b', 'users pinned', START_MS);
  // The proxy's log goes to a file (MAILFLEET_TEST_LOG_DIR, helpers/hub spawnMember) so the test can read why a login failed.
  logDir = await mkdtemp(join(tmpdir(), 'mf-backend-tls-log-'));
  const before = process.env.MAILFLEET_TEST_LOG_DIR;
  process.env.MAILFLEET_TEST_LOG_DIR = logDir;
  try {
    proxy = await c.startProxy('proxy-0', {
      listen: { imap: lo, pop3: lo, submission: lo },
      clusterTls: { caFile },
      proxy: { sendProxyProtocol: true },
      limits: { loginFailuresPerAddress: 1000, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000, loginFailuresPerConnection: 100, loginUserDelayMaxMs: 0 },
    });
  } finally {
    if (before === undefined) delete process.env.MAILFLEET_TEST_LOG_DIR;
    else process.env.MAILFLEET_TEST_LOG_DIR = before;
  }
  // The proxy routes once it has the placement (a connection may race the node's slot; retried, bounded).
  await waitFor(async () => /^L OK/.test(await imapLogin(proxy.port('imap'), onA).catch(() => '')), 'the proxy routes to node-a', START_MS);
}, 600_000);

describe('proxy → node over TLS verified by the cluster CA', () => {
  it('IMAP (imapflow), POP3 and submission reach node-a over TLS: the node, which refuses plaintext logins, lets them in', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: proxy.port('imap'), secure: false, doSTARTTLS: false, auth: { user: onA.address, pass: onA.password }, logger: false });
    await client.connect();
    const box = await client.mailboxOpen('INBOX');
    expect(box.path).toBe('INBOX');
    await client.logout();

    const pop = await LineClient.connect(proxy.port('pop3'));
    try {
      expect(await pop.readLine(ANSWER_MS)).toMatch(/^\+OK/);
      pop.write(`USER ${onA.address}\r\n`);
      expect(await pop.readLine(ANSWER_MS)).toMatch(/^\+OK/);
      pop.write(`PASS ${onA.password}\r\n`);
      expect(await pop.readLine(ANSWER_MS)).toMatch(/^\+OK/);
    } finally {
      pop.close();
    }

    const mta = createTransport({ host: '127.0.0.1', port: proxy.port('submission'), secure: false, requireTLS: true, auth: { user: onA.address, pass: onA.password }, tls: { rejectUnauthorized: false } });
    try {
      const sent = await mta.sendMail({ from: onA.address, to: onA.address, subject: 'over the TLS hop', text: 'hi' });
      expect(sent.accepted).toEqual([onA.address]);
    } finally {
      mta.close();
    }
  }, 120_000);

  it('a node presenting a certificate from another CA is refused: the client gets a temporary failure, the proxy logs why and keeps serving', async () => {
    expect(await imapLogin(proxy.port('imap'), onB)).toMatch(/^L NO \[UNAVAILABLE\]/);
    const pop = await LineClient.connect(proxy.port('pop3'));
    try {
      await pop.readLine(ANSWER_MS);
      pop.write(`USER ${onB.address}\r\n`);
      await pop.readLine(ANSWER_MS);
      pop.write(`PASS ${onB.password}\r\n`);
      expect(await pop.readLine(ANSWER_MS)).toMatch(/^-ERR \[SYS\/TEMP\]/);
    } finally {
      pop.close();
    }
    const mta = createTransport({ host: '127.0.0.1', port: proxy.port('submission'), secure: false, requireTLS: true, auth: { user: onB.address, pass: onB.password }, tls: { rejectUnauthorized: false } });
    await expect(mta.verify()).rejects.toMatchObject({ responseCode: expect.any(Number) as number });
    mta.close();
    // The log names the node and the reason.
    const log = join(logDir, 'proxy-0.json.log');
    let text = '';
    await waitFor(async () => {
      text = await readFile(log, 'utf8').catch(() => '');
      return text.includes('TLS failed');
    }, 'the proxy logs the refused certificate', 30_000);
    const line = text.split('\n').find((l) => l.includes('TLS failed'))!;
    expect(line).toContain('node node-b');
    expect(line).toContain('cluster CA');
    // The proxy is still up and still routes to the trusted node.
    expect(await imapLogin(proxy.port('imap'), onA)).toMatch(/^L OK/);
  }, 120_000);
});
