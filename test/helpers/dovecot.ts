import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { findProgram, freePort, retryWhilePortTaken, startDaemon, waitReady, type Daemon } from './daemon';
import { connect } from 'node:net';

/**
 * The real Dovecot (Debian dovecot-imapd, 2.3) for the migration tests: a
 * private instance with its own config, run directory and log, listening on
 * a loopback port, never the system service. Its users come from a
 * passwd-file with plain passwords (test data), and their mail lives where
 * the test says: `maildir:<mailRoot>/%d/%n`, the same tree a mailfleet node
 * keeps under `<storage>/mail/<domain>/<local>`.
 *
 * Dovecot refuses to give mail access as root (uid 0). When the tests run as
 * root the mail belongs to `nobody`; `chownMail()` hands a tree a node wrote
 * over to that user before Dovecot reads it.
 */
export interface TestDovecot {
  port: number;
  /** The uid/gid Dovecot accesses mail as. */
  uid: number;
  gid: number;
  log(): string;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export function doveadmPath(): string {
  return findProgram(['/usr/bin/doveadm', 'doveadm'], 'dovecot-imapd');
}

/** `doveadm pw -s <scheme>` output: what an operator has in a Dovecot passwd-file or SQL table. */
export function doveadmPw(scheme: string, password: string, rounds?: number): string {
  const args = ['-c', '/dev/null', 'pw', '-s', scheme, '-p', password, ...(rounds === undefined ? [] : ['-r', String(rounds)])];
  return execFileSync(doveadmPath(), args, { encoding: 'utf8' }).trim();
}

/** The uid/gid Dovecot will use for mail: ours, or `nobody` when we are root. */
export function mailOwner(): { uid: number; gid: number; user: string; group: string } {
  const me = userInfo();
  if (me.uid !== 0) {
    const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
    return { uid: me.uid, gid: me.gid, user: me.username, group };
  }
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  const group = execFileSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).trim();
  return { uid, gid, user: 'nobody', group };
}

/**
 * Gives every file under `dir` to Dovecot's mail user, and lets it through
 * the test's own directories above (mkdtemp and the store make them 0700).
 * Root only: otherwise everything is ours already.
 */
export async function chownMail(dir: string): Promise<void> {
  const { uid, gid } = mailOwner();
  if (userInfo().uid !== 0) return;
  const walk = async (p: string): Promise<void> => {
    await chown(p, uid, gid);
    if ((await lstat(p)).isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
  };
  await walk(dir);
  const top = resolve(tmpdir());
  for (let p = dirname(resolve(dir)); p.startsWith(`${top}/`); p = dirname(p)) await chmod(p, (await stat(p)).mode | 0o011);
}

export async function startDovecot(opts: { mailRoot: string; users: readonly { address: string; password: string }[] }): Promise<TestDovecot> {
  const dovecot = findProgram(['/usr/sbin/dovecot', 'dovecot'], 'dovecot-imapd');
  const dir = await mkdtemp(join(tmpdir(), 'mf-dovecot-'));
  const owner = mailOwner();
  const root = userInfo().uid === 0;
  // Dovecot's own processes: its packaged users when we are root, otherwise ourselves.
  const internal = root ? { user: 'dovecot', group: 'dovecot', login: 'dovenull' } : { user: owner.user, group: owner.group, login: owner.user };
  // Dovecot's auth process (user dovecot) reads the passwd file in here.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'run'));
  await mkdir(join(dir, 'state'));
  await mkdir(opts.mailRoot, { recursive: true });
  await chownMail(opts.mailRoot);
  await writeFile(join(dir, 'passwd'), opts.users.map((u) => `${u.address}:{PLAIN}${u.password}\n`).join(''));
  const conf = join(dir, 'dovecot.conf');
  /**
   * Dovecot on a port from freePort(); a taken port makes it exit with
   * "bind(…) failed: Address already in use", which waitReady's error
   * carries, and retryWhilePortTaken tries again with a fresh port.
   */
  const startOnce = async (): Promise<{ port: number; d: Daemon }> => {
    const port = await freePort();
    await writeFile(
      conf,
      [
        `base_dir = ${join(dir, 'run')}`,
        `state_dir = ${join(dir, 'state')}`,
        `log_path = /dev/stderr`,
        `instance_name = mailfleet-test-${port}`,
        'protocols = imap',
        'listen = 127.0.0.1',
        'ssl = no',
        'disable_plaintext_auth = no',
        'auth_mechanisms = plain login',
        `first_valid_uid = ${Math.min(owner.uid, 500)}`,
        `default_internal_user = ${internal.user}`,
        `default_internal_group = ${internal.group}`,
        `default_login_user = ${internal.login}`,
        'passdb {',
        '  driver = passwd-file',
        `  args = ${join(dir, 'passwd')}`,
        '}',
        'userdb {',
        '  driver = static',
        `  args = uid=${owner.uid} gid=${owner.gid} home=${opts.mailRoot}/%d/%n`,
        '}',
        // The Maildir++ tree a mailfleet node keeps: INBOX is the user dir, folders are `.Name` in it.
        'mail_location = maildir:~',
        'namespace inbox {',
        '  inbox = yes',
        '  separator = /',
        '}',
        'service imap-login {',
        '  inet_listener imap {',
        '    address = 127.0.0.1',
        `    port = ${port}`,
        '  }',
        '  inet_listener imaps {',
        '    port = 0',
        '  }',
        '  chroot =',
        '}',
        'service anvil {',
        '  chroot =',
        '}',
        '',
      ].join('\n'),
    );
    const d = startDaemon(dovecot, ['-F', '-c', conf]);
    try {
      await waitReady(d, 'dovecot', () => greets(port), 60_000);
    } catch (e) {
      await d.stop();
      throw e;
    }
    return { port, d };
  };
  let started: { port: number; d: Daemon };
  try {
    started = await retryWhilePortTaken(startOnce);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const { port, d } = started;
  return {
    port,
    uid: owner.uid,
    gid: owner.gid,
    log: () => d.output(),
    stop: async () => {
      await d.stop();
    },
    dispose: async () => {
      await d.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** True once the port answers with an IMAP greeting. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(2000);
    s.once('data', (b) => {
      s.destroy();
      resolve(b.toString().startsWith('* OK'));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
