import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { dovecotConfig, passwdFile, type PasswdEntry } from './dovecot-config';
import { ANCHOR_PROGRAMS, ANCHOR_USERS, runCommand } from './install';
import { freePorts } from './ports';
import { treeMemory, type TreeMemory } from './procmem';

export interface DovecotInstance {
  pid: number;
  dir: string;
  config: string;
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  /** Home of a user (its Maildir is `<home>/Maildir`). */
  homeOf(address: string): string;
  /** uid and gid that own the mail. */
  mailOwner: { uid: number; gid: number };
  /** RSS and PSS of the master and all its children (login, imap, auth, ... processes). */
  memory(): Promise<TreeMemory>;
  /** A setting as this instance's config has it (`doveconf -h`), defaults included. */
  setting(name: string): string;
  /** Runs doveadm against this instance; throws with its output on failure. */
  doveadm(args: readonly string[], timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** `{SSHA512}`: a salted SHA-512 in Dovecot's format, computed here — for users whose login cost is not what is measured. */
export function cheapDovecotHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha512').update(password).update(salt).digest();
  return `{SSHA512}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** A hash made by `doveadm pw -s <scheme> [-r <rounds>]` (BLF-CRYPT cost, ARGON2ID opslimit, SHA512-CRYPT rounds). */
export function doveadmHash(scheme: string, password: string, rounds?: number): string {
  const args = ['pw', '-s', scheme, '-p', password, ...(rounds ? ['-r', String(rounds)] : [])];
  const r = runCommand(ANCHOR_PROGRAMS.doveadm, args);
  const h = r.output.trim();
  if (r.status !== 0 || !h.startsWith('{')) throw new Error(`doveadm ${args.filter((a) => a !== password).join(' ')} failed: ${h}`);
  return h;
}

function idOf(kind: 'passwd' | 'group', name: string): number {
  const r = runCommand('getent', [kind, name]);
  const id = Number(r.output.split(':')[2]);
  if (r.status !== 0 || !Number.isInteger(id)) throw new Error(`no ${kind} entry for ${name}`);
  return id;
}

/** Resolves once something accepts on the port (bounded). */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Dovecot's and Postfix's unprivileged processes (dovecot, postfix,
 * nobody) must reach their files: every folder above `dir` needs the
 * world-execute bit. mkdtemp makes 0700 folders, a classic way to lose an
 * afternoon to "Temporary authentication failure", so this says so.
 */
export async function assertTraversable(dir: string): Promise<void> {
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) throw new Error(`${d} is not traversable by other users (mode ${(st.mode & 0o777).toString(8)}): the anchors' unprivileged processes cannot reach ${dir}; chmod o+x it`);
  }
}

export interface DovecotOptions {
  /** An empty folder for the instance (made traversable for the mail user). */
  dir: string;
  users: readonly PasswdEntry[];
  /** Concurrent sessions the instance must allow (IDLE bench). */
  maxSessions?: number;
  timeoutMs?: number;
}

/**
 * Starts a private Dovecot (`dovecot -F -c <config>`, master in the
 * foreground as our child) on fresh loopback ports. The mail folders belong
 * to "nobody"; the instance's folder is made world-traversable because
 * Dovecot's unprivileged processes must reach their sockets and the mail.
 */
export async function startDovecot(opts: DovecotOptions): Promise<DovecotInstance> {
  const { dir } = opts;
  const uid = idOf('passwd', ANCHOR_USERS.mail);
  const gid = idOf('group', ANCHOR_USERS.mailGroup);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  await assertTraversable(dir);
  for (const sub of ['run', 'state', 'mail']) await mkdir(join(dir, sub), { recursive: true });
  await chown(join(dir, 'mail'), uid, gid);
  const passwd = join(dir, 'passwd');
  await writeFile(passwd, passwdFile(opts.users), { mode: 0o640 });
  // Dovecot's auth process runs as its internal user: it reads the file through the group.
  await chown(passwd, 0, idOf('group', ANCHOR_USERS.dovecotInternal));
  const sessions = opts.maxSessions ?? 100;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [imapPort, pop3Port, lmtpPort] = await freePorts(3);
    const config = join(dir, 'dovecot.conf');
    await writeFile(
      config,
      dovecotConfig({
        dir,
        instanceName: `mfbench-${process.pid}`,
        imapPort,
        pop3Port,
        lmtpPort,
        passwdFile: passwd,
        mailUser: ANCHOR_USERS.mail,
        mailGroup: ANCHOR_USERS.mailGroup,
        imapProcessLimit: Math.max(1024, sessions + 100),
        maxUserIpConnections: Math.max(10, sessions + 100),
      }),
    );
    const child: ChildProcess = spawn(ANCHOR_PROGRAMS.dovecot, ['-F', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await Promise.race([
        Promise.all([waitForPort(imapPort, timeoutMs, 'dovecot imap'), waitForPort(pop3Port, timeoutMs, 'dovecot pop3'), waitForPort(lmtpPort, timeoutMs, 'dovecot lmtp')]),
        exited.then(async (code) => {
          const log = await readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
          throw new Error(`dovecot exited with ${code}: ${out}${log.split('\n').slice(-5).join('\n')}`);
        }),
      ]);
    } catch (err) {
      lastErr = err;
      child.kill('SIGKILL');
      await exited;
      continue;
    }
    const pid = child.pid as number;
    return {
      pid,
      dir,
      config,
      imapPort,
      pop3Port,
      lmtpPort,
      homeOf: (address) => {
        const [local, domain] = address.split('@');
        return join(dir, 'mail', domain, local);
      },
      mailOwner: { uid, gid },
      memory: () => treeMemory(pid),
      setting: (name) => runCommand(ANCHOR_PROGRAMS.doveconf, ['-c', config, '-h', name]).output.trim(),
      doveadm: (args, t = 600_000) =>
        new Promise<string>((resolve, reject) => {
          const p = spawn(ANCHOR_PROGRAMS.doveadm, ['-c', config, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
          let o = '';
          p.stdout.on('data', (d: Buffer) => (o += d.toString()));
          p.stderr.on('data', (d: Buffer) => (o += d.toString()));
          const timer = setTimeout(() => p.kill('SIGKILL'), t);
          p.once('exit', (code) => {
            clearTimeout(timer);
            if (code === 0) resolve(o);
            else reject(new Error(`doveadm ${args.join(' ')} exited with ${code}: ${o.trim().slice(0, 500)}`));
          });
        }),
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      },
    };
  }
  throw new Error(`dovecot did not start: ${(lastErr as Error)?.message ?? String(lastErr)}`);
}
