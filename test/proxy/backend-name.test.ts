import { createServer, type Server } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { issueMemberCertificate } from '../../mail-runtime/hub/ca';
import { BackendConnection } from '../../mail-runtime/proxy/backend';
import { makeCa } from '../helpers/pki';

/**
 * The proxy's TLS hop to a node checks more than "signed by the cluster
 * CA": the CA signs every member's certificate, so the node's must name the
 * member id the placement routes to, exactly (RFC 6125 §6.4.1; no wildcard,
 * no common-name fallback). A real TLS server on loopback plays the node.
 */
let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function nodeServing(pem: { certPem: string; keyPem: string }): Promise<number> {
  server = createServer({ cert: pem.certPem, key: pem.keyPem }, (s) => s.end('* OK ready\r\n'));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

describe('proxy → node: the node’s certificate must name the member id routed to', () => {
  it('accepts a certificate naming the node, refuses one the same CA issued to another member, and a wildcard', async () => {
    const ca = await makeCa('test cluster CA');
    const caPem = { certPem: ca.cert, keyPem: ca.key };
    const named = await issueMemberCertificate(caPem, { memberId: 'node-a', names: ['127.0.0.1'] });

    let port = await nodeServing(named);
    const ok = await BackendConnection.open('127.0.0.1', port, 30_000, undefined, { ca: ca.cert, name: 'node-a' });
    expect(await ok.readLine(30_000)).toBe('* OK ready');
    ok.destroy();

    // Same CA, right address, but the placement routes to node-b: node-a must not stand in for it.
    await expect(BackendConnection.open('127.0.0.1', port, 30_000, undefined, { ca: ca.cert, name: 'node-b' })).rejects.toThrow(/TLS failed .*does not name node-b \(names: DNS:node-a, IP Address:127\.0\.0\.1\)/);

    await new Promise<void>((r) => server!.close(() => r()));
    const wildcard = await issueMemberCertificate(caPem, { memberId: 'gw-0', names: ['*.nodes.test'] });
    port = await nodeServing(wildcard);
    await expect(BackendConnection.open('127.0.0.1', port, 30_000, undefined, { ca: ca.cert, name: 'node-a.nodes.test' })).rejects.toThrow(/does not name node-a\.nodes\.test/);
  }, 60_000);
});
