import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cheapDovecotHash, startDovecot, type DovecotInstance } from './dovecot';
import { startPostfix, type PostfixInstance } from './postfix';
import type { TreeMemory } from './procmem';

/** Where an SMTP load goes and where its mail becomes visible; the same shape for mailfleet and the anchor. */
export interface SmtpTarget {
  name: string;
  host: string;
  /** SMTP port that accepts mail for `domain`. */
  port: number;
  domain: string;
  /** Mailboxes that exist behind the SMTP port, with their IMAP logins. */
  users: ReadonlyArray<{ address: string; password: string }>;
  /** IMAP port where delivered mail shows (time-to-visible). */
  imapPort: number;
  /** Memory of every process of the target. */
  memory(): Promise<{ processes: number; rss: number; pss: number }>;
  stop(): Promise<void>;
}

const sum = (a: TreeMemory, b: TreeMemory): TreeMemory => ({ processes: a.processes + b.processes, rss: a.rss + b.rss, pss: a.pss + b.pss });

/**
 * The anchor for SMTP: a private Postfix accepting for `domain` and
 * delivering over LMTP to a private Dovecot, whose IMAP shows the mail.
 * Both acknowledge durably as shipped (Postfix's cleanup fsyncs the queue
 * file before 250; Dovecot's LMTP fsyncs the Maildir file before its 250).
 */
export async function anchorSmtpTarget(opts: { users: ReadonlyArray<{ address: string; password: string }>; domain?: string }): Promise<SmtpTarget> {
  const domain = opts.domain ?? 'bench.test';
  for (const u of opts.users) if (!u.address.endsWith(`@${domain}`)) throw new Error(`anchorSmtpTarget: ${u.address} is not in ${domain}`);
  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-anchor-smtp-'));
  // mkdtemp makes it 0700; the anchors' unprivileged daemons (postfix, dovecot, nobody) must traverse it.
  await chmod(dir, 0o755);
  let dovecot: DovecotInstance | undefined;
  let postfix: PostfixInstance | undefined;
  try {
    dovecot = await startDovecot({ dir: join(dir, 'dovecot'), users: opts.users.map((u) => ({ user: u.address, hash: cheapDovecotHash(u.password) })) });
    postfix = await startPostfix({ dir: join(dir, 'postfix'), domain, recipients: opts.users.map((u) => u.address), lmtpPort: dovecot.lmtpPort });
  } catch (err) {
    await postfix?.stop();
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pf = postfix;
  const dv = dovecot;
  return {
    name: 'Postfix → Dovecot LMTP',
    host: '127.0.0.1',
    port: pf.smtpPort,
    domain,
    users: opts.users,
    imapPort: dv.imapPort,
    memory: async () => sum(await pf.memory(), await dv.memory()),
    stop: async () => {
      await pf.stop();
      await dv.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
