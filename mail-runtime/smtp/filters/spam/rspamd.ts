import { request } from 'node:http';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Endpoint } from '../endpoint';
import { FILTER_LIMITS } from '../limits';

/**
 * rspamd's HTTP protocol (rspamd.com/doc/developers/protocol.html): the
 * message is the body of `POST /checkv2`; the envelope goes in request
 * headers (From, Rcpt once per recipient, IP, Helo, Hostname, User,
 * Queue-Id, MTA-Name); the answer is a JSON object with the score, the
 * threshold of its reject action, the action and the symbols that fired.
 */
export interface RspamdEnvelope {
  from: string;
  rcpt: readonly string[];
  ip: string;
  helo?: string;
  hostname?: string;
  user?: string;
  queueId: string;
  mtaName: string;
}

const Symbol = z.object({ name: z.string(), score: z.number().finite().optional(), options: z.array(z.string()).optional() });
const Reply = z.object({
  score: z.number().finite(),
  required_score: z.number().finite().optional(),
  action: z.string(),
  symbols: z.record(z.string(), Symbol).default({}),
  messages: z.record(z.string(), z.unknown()).optional(),
});
export type RspamdAnswer = z.infer<typeof Reply>;

export class RspamdError extends Error {}

/**
 * Envelope values go into HTTP header values: no control characters (nothing
 * that could end the header line); an internationalised address (RFC 6531)
 * travels as its UTF-8 octets, which rspamd reads as UTF-8.
 */
function headerSafe(v: string): string {
  return Buffer.from(v.replace(/[\0-\x1f\x7f]/g, ''), 'utf8').toString('latin1');
}

export function checkv2(endpoint: Endpoint, env: RspamdEnvelope, size: number, body: Readable, signal: AbortSignal): Promise<RspamdAnswer> {
  const headers: Record<string, string | string[]> = {
    'Content-Length': String(size),
    From: headerSafe(env.from),
    Rcpt: env.rcpt.map(headerSafe),
    IP: headerSafe(env.ip),
    'Queue-Id': headerSafe(env.queueId),
    'MTA-Name': headerSafe(env.mtaName),
  };
  if (env.helo) headers.Helo = headerSafe(env.helo);
  if (env.hostname) headers.Hostname = headerSafe(env.hostname);
  if (env.user) headers.User = headerSafe(env.user);
  const where = endpoint.kind === 'unix' ? { socketPath: endpoint.path } : { host: endpoint.host, port: endpoint.port };
  return new Promise<RspamdAnswer>((resolve, reject) => {
    const req = request({ ...where, method: 'POST', path: '/checkv2', headers, signal, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let got = 0;
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got > FILTER_LIMITS.spamReplyBytes) {
          req.destroy(new RspamdError(`rspamd reply longer than ${FILTER_LIMITS.spamReplyBytes} bytes`));
          return;
        }
        parts.push(d);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new RspamdError(`rspamd answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          return;
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          reject(new RspamdError(`rspamd reply is not JSON: ${JSON.stringify(text.slice(0, 80))}`));
          return;
        }
        const parsed = Reply.safeParse(json);
        if (parsed.success) resolve(parsed.data);
        else reject(new RspamdError(`rspamd reply not understood: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`));
      });
    });
    req.on('error', reject);
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}
