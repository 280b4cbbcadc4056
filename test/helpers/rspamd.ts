import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram, freePort, retryWhilePortTaken, startDaemon, waitReady } from './daemon';

/**
 * The GTUBE test string (spamassassin.apache.org/gtube): every spam scanner
 * scores a message carrying it as spam. Split so this file is not itself a
 * GTUBE message to a scanner that reads the repository.
 */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-' + 'UBE-TEST-EMAIL*C.34X';

export interface TestRspamd {
  /** The normal worker, rspamd's HTTP protocol (`/checkv2`). */
  http: string;
  /** The proxy worker in milter mode, scanning through the normal worker. */
  milter: string;
  rejectScore: number;
  output(): string;
  dispose(): Promise<void>;
}

/**
 * rspamd on loopback with a config of our own in a temp dir (no Debian
 * /etc/rspamd): no DNS (a nameserver that answers nothing), no statistics
 * or Bayes, no redis, no fuzzy storage, no controller; the only Lua module
 * is milter_headers so that the milter adds its score headers to clean
 * mail too. GTUBE detection is in rspamd's core and needs no module.
 */
export async function startRspamd(): Promise<TestRspamd> {
  const rspamd = findProgram(['/usr/bin/rspamd', 'rspamd'], 'rspamd');
  return retryWhilePortTaken(() => startRspamdOnce(rspamd));
}

async function startRspamdOnce(rspamd: string): Promise<TestRspamd> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-rspamd-'));
  await mkdir(join(dir, 'db'));
  const [httpPort, milterPort] = [await freePort(), await freePort()];
  const rejectScore = 15;
  const conf = join(dir, 'rspamd.conf');
  await writeFile(
    conf,
    `
options {
  pidfile = "${dir}/rspamd.pid";
  dbdir = "${dir}/db";
  tempdir = "${dir}";
  filters = "";
  # Nothing may leave loopback: a resolver that does not exist, few retries.
  dns { nameserver = ["127.0.0.1:9"]; timeout = 1s; retransmits = 1; }
  url_tld = "/usr/share/rspamd/effective_tld_names.dat";
  local_addrs = [];
}
logging { type = "console"; level = "notice"; }
actions { reject = ${rejectScore}; add_header = 6; }
modules { path = "/usr/share/rspamd/plugins"; }
# Score headers for every message, loopback clients included.
milter_headers { use = ["x-spamd-result", "x-spam-status"]; skip_local = false; skip_authenticated = false; }
worker "normal" { bind_socket = "127.0.0.1:${httpPort}"; count = 1; mime = true; }
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:${milterPort}";
  count = 1;
  milter = yes;
  # Scans through the normal worker above, as Debian's packaged config does.
  upstream "local" { default = yes; hosts = "127.0.0.1:${httpPort}"; }
  timeout = 60s;
  reject_message = "Spam message rejected";
}
`,
  );
  // As root rspamd wants an unprivileged user to switch to; the test's own temp dir is fine to run in as root.
  const args = ['-f', '-c', conf, ...(process.getuid?.() === 0 ? ['--insecure'] : [])];
  const daemon = startDaemon(rspamd, args, { cwd: dir });
  try {
    await waitReady(daemon, 'rspamd', async () => (await httpPing(httpPort)) && (await canConnect(milterPort)));
  } catch (e) {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    http: `127.0.0.1:${httpPort}`,
    milter: `127.0.0.1:${milterPort}`,
    rejectScore,
    output: () => daemon.output(),
    dispose: async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function httpPing(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/ping`);
  return res.ok && (await res.text()).trim() === 'pong';
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
