/**
 * A stand-in for a pair's all-roles member (mail-runtime/failover/member.ts), quick to start: it
 * greets on SMTP and IMAP, answers its health endpoint, and holds the site
 * lease like the real member must: renews it, and the moment a higher epoch
 * appears it closes its listeners (self-fencing). Run with tsx:
 *   stand-in-member.ts <storage> <memberId> <ttlMs> [epoch]
 * Prints one JSON line when ready and one when fenced.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { SiteLease } from '../../mail-runtime/failover';

async function main(): Promise<void> {
  const [storage, member, ttl, epochArg] = process.argv.slice(2);
  const lease = new SiteLease(storage!, Number(ttl));
  const epoch = epochArg === undefined ? (await lease.take(member!)).epoch : Number(epochArg);
  if (!(await lease.renew(member!, epoch))) throw new Error(`cannot hold the lease at epoch ${epoch}`);
  const smtp = net.createServer((s) => s.end('220 stand-in.test ESMTP\r\n'));
  const imap = net.createServer((s) => s.end('* OK [CAPABILITY IMAP4rev1] stand-in ready\r\n'));
  const health = http.createServer((_q, r) => r.writeHead(200).end('{"status":"ready"}'));
  const listen = (s: net.Server) => new Promise<number>((ok) => s.listen(0, '127.0.0.1', () => ok((s.address() as net.AddressInfo).port)));
  const ports = { smtp: await listen(smtp), imap: await listen(imap), health: await listen(health) };
  process.stdout.write(`${JSON.stringify({ ready: true, member, epoch, ...ports })}\n`);
  const timer = setInterval(() => {
    lease.renew(member!, epoch).then(
      (held) => {
        if (held) return;
        clearInterval(timer);
        for (const s of [smtp, imap, health]) s.close();
        process.stdout.write(`${JSON.stringify({ fenced: true, member, epoch })}\n`);
      },
      () => undefined,
    );
  }, Math.max(50, Math.floor(Number(ttl) / 4)));
}

void main();
