import { chmod, copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram, freePort, retryWhilePortTaken, startDaemon, waitReady } from './daemon';

export interface TestSpamd {
  address: string;
  output(): string;
  dispose(): Promise<void>;
}

/** Where Debian's spamassassin package puts the plugin loaders (.pre) spamd needs. */
const SA_SITE_CONFIG = '/etc/spamassassin';

/**
 * SpamAssassin's spamd on loopback: local tests only (-L: no DNS, no
 * network), Bayes and auto-learning off, no user configs; its site config
 * dir is a temp dir holding Debian's plugin loaders and our local.cf. The
 * rules are the packaged ones (GTUBE is among them); sa-update never runs.
 */
export async function startSpamd(): Promise<TestSpamd> {
  const spamd = findProgram(['/usr/sbin/spamd', 'spamd'], 'spamd');
  return retryWhilePortTaken(() => startSpamdOnce(spamd));
}

/** One try on a port from freePort(), in a temp dir of its own that it removes again when it fails. */
async function startSpamdOnce(spamd: string): Promise<TestSpamd> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-spamd-'));
  try {
    // spamd's children drop to `nobody` when started as root: they must read this dir.
    await chmod(dir, 0o755);
    const pre = (await readdir(SA_SITE_CONFIG).catch(() => [] as string[])).filter((f) => f.endsWith('.pre'));
    if (pre.length === 0) throw new Error(`no SpamAssassin plugin loaders (*.pre) in ${SA_SITE_CONFIG}: install the Debian package spamd (test/setup/debian-packages.ts)`);
    for (const f of pre) await copyFile(join(SA_SITE_CONFIG, f), join(dir, f));
    await writeFile(join(dir, 'local.cf'), ['required_score 5', 'use_bayes 0', 'bayes_auto_learn 0', 'skip_rbl_checks 1', ''].join('\n'));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const port = await freePort();
  const args = [
    '-L',
    '-s',
    'stderr',
    `--listen=127.0.0.1:${port}`,
    `--siteconfigpath=${dir}`,
    '--nouser-config',
    '--min-children=1',
    '--max-children=2',
    `--pidfile=${join(dir, 'spamd.pid')}`,
    '-H',
    dir,
    ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
  ];
  const daemon = startDaemon(spamd, args);
  try {
    // A taken port: spamd exits with "… Address already in use", which waitReady's error carries.
    await waitReady(daemon, 'spamd', () => ping(port));
  } catch (e) {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    address: `127.0.0.1:${port}`,
    output: () => daemon.output(),
    dispose: async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** spamd's PING → `SPAMD/1.5 0 PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(/^SPAMD\/[\d.]+ 0 PONG/.test(out)));
    s.on('connect', () => s.end('PING SPAMC/1.5\r\n\r\n'));
  });
}
