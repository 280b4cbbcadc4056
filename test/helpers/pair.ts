import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createTransport } from 'nodemailer';
import { imapMessages, type MailUser } from './smtp';

/**
 * Real processes of a failover pair on one machine: `mailfleet run --role
 * all` members, the failover controller, the operator CLI; and the mail
 * they carry, counted by Message-ID.
 */

export const ROOT = path.resolve(__dirname, '../..');
export const BIN = path.join(ROOT, 'bin/mailfleet.js');
/** Bound on how long any wait in these tests may take (a bound, not a measurement). */
export const BOUND_MS = 60_000;

export interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  out: () => string;
  exited: Promise<number | null>;
  waitLine(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** Spawns `cmd args`; stdout JSON lines are collected (the ready and fenced lines). */
export function startProc(cmd: string, args: string[], env: Record<string, string> = {}, boundMs = BOUND_MS): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, MAILFLEET_LOG_LEVEL: 'warn', ...env } });
  const lines: Record<string, unknown>[] = [];
  let text = '';
  let buf = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    text = (text + d.toString()).slice(-20_000);
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* a log line */
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    text = (text + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    lines,
    out: () => text,
    exited,
    async waitLine(pred) {
      const deadline = Date.now() + boundMs;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) throw new Error(`no such line; output:\n${text}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
  };
}

export function kill(p: Proc | undefined): void {
  if (p && p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGCONT');
    p.child.kill('SIGKILL');
  }
}

/** Polls `f` until it yields a value (not undefined/false), within `boundMs`. */
export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, why?: () => string | undefined, boundMs = BOUND_MS): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const detail = why?.();
      throw new Error(`gave up waiting for ${what}${detail ? `\n${detail}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface MemberConfigOptions {
  storage: string;
  memberId: string;
  users: string;
  leaseTtlMs: number;
  host?: string;
  site?: string;
  /** The admin token file of the hub part (`mailfleet user add --hub`); none: its admin API answers 403. */
  adminTokenFile?: string;
}

/** Writes the RuntimeConfig of an all-roles member (every port chosen by the OS) and returns its path. */
export function writeMemberConfig(dir: string, o: MemberConfigOptions): string {
  const host = o.host ?? '127.0.0.1';
  const l = { host, port: 0 };
  const file = path.join(dir, `${o.memberId}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      role: 'all',
      memberId: o.memberId,
      cluster: 'pair',
      site: o.site ?? o.memberId,
      management: l,
      storage: { path: o.storage },
      plaintextAuth: 'always',
      listen: { http: l, smtp: l, imap: l, pop3: l, submission: l, lmtp: l },
      hostedDomains: ['example.com'],
      directory: { file: o.users },
      // Test senders' domains have no DNS here: no SPF/DKIM/DMARC lookups (as test/helpers/gateway.ts).
      filters: { authentication: { enabled: false } },
      ...(o.adminTokenFile ? { adminTokenFile: o.adminTokenFile } : {}),
      leaseTtlMs: o.leaseTtlMs,
    }),
  );
  return file;
}

export function startMember(config: string, env: Record<string, string> = {}): Proc {
  // node runs the CLI in-process (tsx as a require hook), so a signal reaches the process that serves.
  return startProc(process.execPath, [BIN, 'run', '--role', 'all', '--config', config], env);
}

/** Sends one message through the member's MX; resolves with the server's reply (250 = acknowledged, durable). */
export async function sendOne(host: string, port: number, to: string, messageId: string): Promise<string> {
  const t = createTransport({ host, port, secure: false, ignoreTLS: true, name: 'client.test', connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 10_000 });
  try {
    const info = await t.sendMail({ from: 'sender@example.net', to, subject: `load ${messageId}`, text: 'hello\n', messageId: `<${messageId}>` });
    return info.response;
  } finally {
    t.close();
  }
}

/** Message-IDs in a user's INBOX, through imapflow, with how often each occurs. */
export async function messageIds(host: string, port: number, user: MailUser): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const raw of await imapMessages(port, user, 'INBOX', host)) {
    const m = /^Message-ID:\s*<([^>]+)>/im.exec(raw);
    const id = m ? m[1]! : '(none)';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every file under `dir` with its size and mtime: a store that nobody writes keeps this unchanged. */
export function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const rel = path.relative(dir, p);
      if (skip(rel)) continue;
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else out[rel] = `${st.size}@${st.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}
