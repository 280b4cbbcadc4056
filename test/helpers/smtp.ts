import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { spawnNodeProcess, type SpawnedNodeProcess } from '../../bench/imap/child';
import { hashPassword } from '../../mail-runtime/auth';
import { createLogger } from '../../mail-runtime/common/log';
import { parseRuntimeConfig, type RuntimeConfigInput } from '../../mail-runtime/config';
import { nodeOptionsFromConfig, startNode, type NodeOptions, type RunningNode } from '../../mail-runtime/node';
import type { QueueEntry, QueueWriter } from '../../mail-runtime/smtp/queue/types';
import { LineClient } from './line-client';
import { FAST_SCRYPT } from './users';

/** A user of the SMTP tests: aliases and quotas too. */
export interface MailUser {
  address: string;
  password: string;
  aliases?: string[];
  quota?: { bytes?: number; messages?: number };
}

export const ANN: MailUser = { address: 'ann@example.com', password: 'ann secret', aliases: ['sales@example.com'] };
export const BEN: MailUser = { address: 'ben@example.com', password: 'ben-pw' };
/** Over quota from the first real message. */
export const CAL: MailUser = { address: 'cal@example.com', password: 'cal-pw', quota: { bytes: 200 } };

export async function writeMailUsers(file: string, users: readonly MailUser[]): Promise<void> {
  const lines = ['users:'];
  for (const u of users) {
    lines.push(`  - address: ${u.address}`, `    password: "${await hashPassword(u.password, FAST_SCRYPT)}"`);
    if (u.aliases) lines.push(`    aliases: ${JSON.stringify(u.aliases)}`);
    if (u.quota) lines.push(`    quota: ${JSON.stringify(u.quota)}`);
  }
  await writeFile(file, `${lines.join('\n')}\n`);
}

/**
 * A QueueWriter that keeps entries in memory (the gateway's real queue is
 * on shared storage); `failWith` makes enqueue reject, as a full disk would.
 */
export class MemoryQueue implements QueueWriter {
  readonly entries: { entry: Omit<QueueEntry, 'id' | 'receivedAt' | 'owner' | 'size'>; message: Buffer; id: string }[] = [];
  failWith?: Error;
  enqueue(entry: Omit<QueueEntry, 'id' | 'receivedAt' | 'owner' | 'size'>, message: Buffer): Promise<string> {
    if (this.failWith) return Promise.reject(this.failWith);
    const id = `q${String(this.entries.length + 1).padStart(4, '0')}`;
    this.entries.push({ entry, message, id });
    return Promise.resolve(id);
  }
}

export interface SmtpTestNode extends RunningNode {
  dir: string;
  /** The node's generated self-signed certificate (PEM), for clients that verify it. */
  certPem: string;
  lmtpPort: number;
  submissionPort: number;
  smtpsPort: number;
  dispose(): Promise<void>;
}

/**
 * A node in this process on loopback ports with LMTP, submission (587
 * style, STARTTLS) and SMTPS (465 style), from a RuntimeConfig as a member
 * reads it; the seams the hub and the gateway fill later (owns, router,
 * queue, peers) can be injected.
 */
export async function startSmtpTestNode(
  opts: {
    users?: MailUser[];
    memberId?: string;
    plaintextAuth?: 'never' | 'loopback' | 'always';
    limits?: NonNullable<RuntimeConfigInput['limits']>;
  } & Partial<Pick<NodeOptions, 'owns' | 'router' | 'queue' | 'peers'>> = {},
): Promise<SmtpTestNode> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-smtp-'));
  const usersFile = join(dir, 'users.yaml');
  await writeMailUsers(usersFile, opts.users ?? [ANN, BEN, CAL]);
  const lo = { host: '127.0.0.1', port: 0 };
  const cfg = parseRuntimeConfig(
    {
      role: 'node',
      memberId: opts.memberId ?? 'smtp-node',
      cluster: 'test',
      hostname: 'mx.test',
      management: lo,
      storage: { path: join(dir, 'storage') },
      listen: { imap: lo, pop3: lo, lmtp: lo, submission: lo, smtps: lo },
      directory: { file: usersFile },
      tls: { certFile: join(dir, 'tls', 'cert.pem'), keyFile: join(dir, 'tls', 'key.pem'), generateIfMissing: true },
      ...(opts.plaintextAuth ? { plaintextAuth: opts.plaintextAuth } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
    },
    'smtp test node config',
  );
  if (cfg.role !== 'node') throw new Error('unreachable');
  const node = await startNode({
    ...nodeOptionsFromConfig(cfg),
    ...(opts.owns ? { owns: opts.owns } : {}),
    ...(opts.router ? { router: opts.router } : {}),
    ...(opts.queue ? { queue: opts.queue } : {}),
    ...(opts.peers ? { peers: opts.peers } : {}),
    log: createLogger({ role: 'node', member: cfg.memberId }, process.env.MAILFLEET_TEST_LOG ?? 'silent'),
  });
  return {
    ...node,
    dir,
    certPem: await readFile(join(dir, 'tls', 'cert.pem'), 'utf8'),
    submissionPort: node.submissionPort as number,
    smtpsPort: node.smtpsPort as number,
    dispose: async () => {
      await node.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Reads one SMTP reply (RFC 5321 §4.2.1: `250-` lines up to the `250 ` one). */
export async function smtpReply(c: LineClient, timeoutMs = 10_000): Promise<string[]> {
  return c.readUntil((l) => /^\d{3}( |$)/.test(l), timeoutMs);
}

/** Sends a command line and returns its reply, lines joined by "\n" (multi-line replies compare as one string). */
export async function smtp(c: LineClient, line: string): Promise<string> {
  c.send(line);
  return (await smtpReply(c)).join('\n');
}

/** Connects and reads the greeting. */
export async function smtpConnect(port: number, opts: { tls?: boolean } = {}): Promise<{ c: LineClient; greeting: string }> {
  const c = await LineClient.connect(port, opts);
  const greeting = (await smtpReply(c)).join('\n');
  return { c, greeting };
}

/** What an MX answered to one message: the reply to each RCPT, and to the data ('' when no RCPT was accepted). */
export interface MxReplies {
  rcpt: string[];
  data: string;
}

/**
 * One message through an MX (a gateway's SMTP port) as a remote server
 * sends it: EHLO, MAIL, one RCPT per address, DATA (RFC 5321 §3.3) only if
 * some RCPT was accepted. The Message-ID is `<subject@example.org>`. A reply
 * to EHLO, MAIL or DATA that is not a success throws, naming it; the RCPT
 * and data replies are returned for the test to judge.
 */
export async function sendViaMx(port: number, rcpts: readonly string[], subject: string, opts: { body?: string } = {}): Promise<MxReplies> {
  const { c } = await smtpConnect(port);
  const expectReply = async (line: string, code: RegExp): Promise<void> => {
    const reply = await smtp(c, line);
    if (!code.test(reply)) throw new Error(`MX at ${port}: "${line}" answered "${reply}"`);
  };
  try {
    await expectReply('EHLO client.example.org', /^250/);
    await expectReply('MAIL FROM:<someone@example.org>', /^250/);
    const rcpt: string[] = [];
    for (const r of rcpts) rcpt.push(await smtp(c, `RCPT TO:<${r}>`));
    if (!rcpt.some((r) => r.startsWith('250'))) return { rcpt, data: '' };
    await expectReply('DATA', /^354/);
    const data = await smtp(c, dataBlock(mail({ to: rcpts[0]!, subject, messageId: `<${subject}@example.org>`, ...(opts.body !== undefined ? { body: opts.body } : {}) })));
    return { rcpt, data };
  } finally {
    c.socket.destroy();
  }
}

/** One message to `to` through an MX that must accept it (every reply 2xx/354; throws naming the refusal otherwise). */
export async function deliverViaMx(port: number, to: string, subject: string): Promise<void> {
  const r = await sendViaMx(port, [to], subject);
  if (!/^250/.test(r.rcpt[0] ?? '') || !/^250/.test(r.data)) throw new Error(`MX at ${port} refused ${to}: RCPT "${r.rcpt[0] ?? ''}", data "${r.data}"`);
}

/** The message text with CRLF line ends and dot-stuffing, ready to follow a 354. */
export function dataBlock(message: string): string {
  const crlf = message.replace(/\r?\n/g, '\r\n');
  return `${crlf.replace(/^\./gm, '..')}${crlf.endsWith('\r\n') ? '' : '\r\n'}.\r\n`;
}

export function mail(opts: { from?: string; to?: string; subject: string; messageId?: string; body?: string; extra?: string[] }): string {
  const headers = [
    `From: ${opts.from ?? 'Sender <sender@example.net>'}`,
    `To: ${opts.to ?? 'ann@example.com'}`,
    `Subject: ${opts.subject}`,
    ...(opts.messageId === '' ? [] : [`Message-ID: ${opts.messageId ?? `<${opts.subject.replace(/\W/g, '')}@example.net>`}`]),
    ...(opts.extra ?? []),
  ];
  return `${headers.join('\r\n')}\r\n\r\n${opts.body ?? 'hello\r\n'}`;
}

/** A message of exactly `bytes` octets as it arrives after DATA (one long body line of x). */
export function sizedMail(bytes: number, opts: { from?: string; subject: string; extra?: string[] }): string {
  const head = mail({ ...opts, body: '' });
  const pad = bytes - Buffer.byteLength(head) - 2;
  if (pad < 0) throw new Error(`headers alone exceed ${bytes} octets`);
  return `${head}${'x'.repeat(pad)}\r\n`;
}

/** Every message of a folder as raw text, through a real IMAP client (imapflow). */
export async function imapMessages(port: number, user: MailUser, folder = 'INBOX', host = '127.0.0.1'): Promise<string[]> {
  const flow = new ImapFlow({ host, port, secure: false, auth: { user: user.address, pass: user.password }, logger: false, tls: { rejectUnauthorized: false } });
  // A member fenced or killed mid-read resets the socket: the pending call rejects and the caller retries.
  // ImapFlow also emits 'error'; without a listener EventEmitter would throw it as an uncaught exception.
  flow.on('error', () => undefined);
  await flow.connect();
  try {
    const box = await flow.mailboxOpen(folder);
    if (box.exists === 0) return [];
    const out: string[] = [];
    for await (const msg of flow.fetch('1:*', { source: true })) out.push(msg.source?.toString('utf8') ?? '');
    return out;
  } finally {
    await flow.logout();
  }
}

/**
 * One step of a protocol table: a command line and its reply, or a message
 * after 354 and the replies that follow it (LMTP: one per recipient).
 */
export type Step = { send: string; expect: string | RegExp } | { data: string; expect: (string | RegExp)[] };

/**
 * Plays the steps on one connection and returns what came back, shaped like
 * the expectations (so a table compares with one toEqual and a failure
 * shows every row).
 */
export async function play(c: LineClient, steps: readonly Step[]): Promise<(string | string[])[]> {
  const out: (string | string[])[] = [];
  for (const step of steps) {
    if ('send' in step) {
      out.push(await smtp(c, step.send));
    } else {
      c.write(dataBlock(step.data));
      const lines: string[] = [];
      for (let i = 0; i < step.expect.length; i++) lines.push((await smtpReply(c)).join('\n'));
      out.push(lines);
    }
  }
  return out;
}

/** A node as its own process (`mail-runtime/node/main.ts`), storage and users in `dir`, for kill -9 tests. */
export async function spawnSmtpNode(dir: string): Promise<SpawnedNodeProcess> {
  const spawned = await spawnNodeProcess({ dir, usersFile: join(dir, 'users.yaml'), memberId: 'smtp-crash-node', timeoutMs: 60_000 });
  if (typeof spawned.lmtpPort !== 'number') throw new Error(`the node's ready line has no lmtpPort (pid ${spawned.child.pid})`);
  return spawned;
}

/**
 * Waits (bounded) until the node's /metrics shows no open client session:
 * a connection the test closed is gone on the server side too, so the next
 * test's connection count starts from zero.
 */
export async function waitForNoSessions(healthPort: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const open = [...text.matchAll(/^mailfleet_(?:imap|pop3|lmtp|submission)_sessions\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    if (open === 0) return;
    if (Date.now() > deadline) throw new Error(`sessions still open after ${timeoutMs} ms: ${open}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
