import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dovecotConfig, passwdFile, postfixMainCf, postfixMasterCf, postfixRecipients, type DovecotConfigInput } from '../../bench/anchors';

/**
 * The anchors' generated configs, checked by the real programs: Postfix's
 * postconf and Dovecot's doveconf (Debian packages postfix and dovecot-core,
 * installed by `npm test`'s first step, see test/setup/debian-packages.ts).
 * A missing program fails with the package to install, never a skip.
 */
function run(bin: string, pkg: string, args: string[]): { status: number; out: string; err: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`"${bin}" is not installed: these tests validate the generated config with the real ${bin}. Install it with: apt-get install -y ${pkg}`);
  }
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const root = mkdtempSync(join(tmpdir(), 'mailfleet-test-anchors-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('Postfix anchor config (postconf)', () => {
  const dir = join(root, 'postfix');
  const etc = join(dir, 'etc');
  mkdirSync(etc, { recursive: true });
  const write = (main: string, master: string): void => {
    writeFileSync(join(etc, 'main.cf'), main);
    writeFileSync(join(etc, 'master.cf'), master);
    writeFileSync(join(etc, 'recipients'), postfixRecipients(['rcpt00@bench.test', 'rcpt01@bench.test']));
  };
  const main = postfixMainCf({ dir, smtpPort: 32525, lmtpPort: 32524, domain: 'bench.test', recipientsMap: 'recipients' });
  const master = postfixMasterCf({ smtpPort: 32525 });

  it('postconf -n reads main.cf without a warning and sees the LMTP delivery to Dovecot', () => {
    write(main, master);
    const r = run('postconf', 'postfix', ['-c', etc, '-n']);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toContain('virtual_transport = lmtp:inet:127.0.0.1:32524');
    expect(r.out).toContain(`queue_directory = ${dir}/queue`);
    const maps = run('postmap', 'postfix', ['-c', etc, '-q', 'rcpt01@bench.test', `texthash:${join(etc, 'recipients')}`]);
    expect(maps.out.trim()).toBe('OK');
  });

  it('postconf -M reads master.cf: one smtpd on 127.0.0.1, nothing chrooted', () => {
    write(main, master);
    const r = run('postconf', 'postfix', ['-c', etc, '-M']);
    expect(r.err).toBe('');
    const services = r.out.trim().split('\n').map((l) => l.split(/\s+/));
    expect(services.filter((s) => s[1] === 'inet').map((s) => `${s[0]} ${s[7]}`)).toEqual(['127.0.0.1:32525 smtpd']);
    expect(services.every((s) => s[4] === 'n')).toBe(true);
    expect(services.map((s) => s[0])).toEqual(expect.arrayContaining(['cleanup', 'qmgr', 'lmtp', 'postlog']));
  });

  it('the check can fail: postconf warns about a misspelt parameter', () => {
    write(`${main}virtual_transprot = lmtp:inet:127.0.0.1:1\n`, master);
    expect(run('postconf', 'postfix', ['-c', etc, '-n']).err).toMatch(/unused parameter: virtual_transprot/);
  });

  it('refuses input Postfix would misread', () => {
    expect(() => postfixMainCf({ dir, smtpPort: 70000, lmtpPort: 1, domain: 'bench.test', recipientsMap: 'r' })).toThrow(/smtpPort must be a port/);
    expect(() => postfixMainCf({ dir: 'relative', smtpPort: 1, lmtpPort: 1, domain: 'bench.test', recipientsMap: 'r' })).toThrow(/absolute/);
    expect(() => postfixMainCf({ dir, smtpPort: 1, lmtpPort: 1, domain: 'bench.test\nmydestination = x', recipientsMap: 'r' })).toThrow(/domain has characters/);
    expect(() => postfixRecipients(['not an address'])).toThrow(/not an address/);
  });
});

describe('Dovecot anchor config (doveconf)', () => {
  const dir = join(root, 'dovecot');
  mkdirSync(dir, { recursive: true });
  const input: DovecotConfigInput = {
    dir,
    instanceName: 'mfbench-test',
    imapPort: 32143,
    pop3Port: 32110,
    lmtpPort: 32524,
    passwdFile: join(dir, 'passwd'),
    mailUser: 'nobody',
    mailGroup: 'nogroup',
    imapProcessLimit: 1100,
    maxUserIpConnections: 1100,
  };
  const check = (text: string): { status: number; out: string; err: string } => {
    const file = join(dir, 'dovecot.conf');
    writeFileSync(file, text);
    return run('doveconf', 'dovecot-core', ['-c', file, '-n']);
  };

  it('doveconf -n accepts it: private base_dir, loopback listeners, the three protocols, passwd-file', () => {
    const r = check(dovecotConfig(input));
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    for (const s of [`base_dir = ${dir}/run`, 'listen = 127.0.0.1', 'protocols = imap pop3 lmtp', 'port = 32143', 'port = 32110', 'port = 32524', `args = ${dir}/passwd`, 'process_limit = 1100']) {
      expect(r.out).toContain(s);
    }
  });

  it('leaves the durability and auth-cache settings at Dovecot defaults (mail_fsync = optimized, auth_cache_size = 0)', () => {
    const file = join(dir, 'dovecot.conf');
    writeFileSync(file, dovecotConfig(input));
    expect(run('doveconf', 'dovecot-core', ['-c', file, '-h', 'mail_fsync']).out.trim()).toBe('optimized');
    expect(run('doveconf', 'dovecot-core', ['-c', file, '-h', 'auth_cache_size']).out.trim()).toBe('0');
  });

  it('the check can fail: doveconf rejects an unknown setting', () => {
    const r = check(`${dovecotConfig(input)}mail_fsnyc = always\n`);
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/Unknown setting: mail_fsnyc/);
  });

  it('refuses input Dovecot would misread', () => {
    expect(() => dovecotConfig({ ...input, imapPort: 0 })).toThrow(/imapPort must be a port/);
    expect(() => dovecotConfig({ ...input, passwdFile: '/tmp/a b' })).toThrow(/passwdFile has characters/);
    expect(() => passwdFile([{ user: 'a:b@bench.test', hash: '{PLAIN}x' }])).toThrow(/colon/);
    expect(() => passwdFile([{ user: 'a@bench.test', hash: 'no-scheme' }])).toThrow(/\{SCHEME\}/);
    expect(passwdFile([{ user: 'a@bench.test', hash: '{SSHA512}abc=' }])).toBe('a@bench.test:{SSHA512}abc=\n');
  });
});
