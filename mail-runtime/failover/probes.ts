import * as http from 'node:http';
import * as net from 'node:net';

/**
 * Probes of the primary from the controller's own vantage point. Each ends
 * within `timeoutMs`: a primary that is frozen (SIGSTOP, a hung VM) keeps
 * its port open and never greets, which a connect-only check would miss.
 */
export type ProbeName = 'smtp' | 'imap' | 'health';

export interface ProbeResult {
  probe: ProbeName;
  ok: boolean;
  detail?: string;
}

/** Longest greeting line read: RFC 5321 §4.5.3.1.5 caps a reply line at 512 octets. */
const MAX_GREETING = 512;

function splitHostPort(hp: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hp);
  if (!m) throw new Error(`${hp} is not host:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Connects and waits for the first line; `good` decides whether it is the expected greeting. */
function greeting(probe: ProbeName, hp: string, timeoutMs: number, good: (line: string) => boolean): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const { host, port } = splitHostPort(hp);
    let buf = '';
    let done = false;
    const finish = (ok: boolean, detail?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ probe, ok, ...(detail ? { detail } : {}) });
    };
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => finish(false, `no greeting within ${timeoutMs} ms`), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        finish(good(line), good(line) ? undefined : `unexpected greeting ${JSON.stringify(line.slice(0, 80))}`);
      } else if (buf.length > MAX_GREETING) finish(false, 'greeting line too long');
    });
    sock.on('error', (e) => finish(false, e.message));
    sock.on('close', () => finish(false, 'closed before greeting'));
  });
}

/** SMTP: a `220` banner (RFC 5321 §4.2; 554 means "no service here"). */
export function probeSmtp(hp: string, timeoutMs: number): Promise<ProbeResult> {
  return greeting('smtp', hp, timeoutMs, (l) => /^220[ -]/.test(l));
}

/** IMAP: `* OK` or `* PREAUTH` (RFC 3501 §7.1); `* BYE` is a refusal. */
export function probeImap(hp: string, timeoutMs: number): Promise<ProbeResult> {
  return greeting('imap', hp, timeoutMs, (l) => /^\* (OK|PREAUTH)\b/i.test(l));
}

/** Management endpoint: 200 within the timeout. */
export function probeHealth(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, detail?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ probe: 'health', ok, ...(detail ? { detail } : {}) });
    };
    const req = http.get(url, (res) => {
      res.resume();
      finish(res.statusCode === 200, res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`);
    });
    const timer = setTimeout(() => finish(false, `no answer within ${timeoutMs} ms`), timeoutMs);
    req.on('error', (e) => finish(false, e.message));
  });
}
