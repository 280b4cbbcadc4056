import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram, freePort, retryWhilePortTaken, startDaemon, waitReady } from './daemon';

/**
 * The EICAR anti-virus test file (eicar.org): 68 printable bytes every
 * scanner treats as a virus. Built from two halves so this source file is
 * not itself flagged by a scanner on a developer's machine.
 */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Our own signature for it: no downloaded database, freshclam never runs. */
export const EICAR_SIGNATURE = 'Mailfleet.Test.EICAR';

export interface TestClamd {
  /** `127.0.0.1:<port>` */
  tcp: string;
  /** `unix:<dir>/clamd.sock` */
  unix: string;
  streamMaxBytes: number;
  /** clamd's log, for failure messages. */
  log(): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * clamd on loopback (TCP and a unix socket) with a config and a one-line
 * signature database (.ndb, ClamAV's extended format: name, target type 0 =
 * any file, offset *, the bytes in hex) written to a temp dir. clamd decodes
 * MIME itself, so a base64 attachment carrying EICAR matches.
 */
export async function startClamd(opts: { streamMaxBytes?: number } = {}): Promise<TestClamd> {
  const clamd = findProgram(['/usr/sbin/clamd', 'clamd'], 'clamav-daemon');
  return retryWhilePortTaken(() => startClamdOnce(clamd, opts.streamMaxBytes ?? 1024 * 1024));
}

/** One try on a port from freePort(), in a temp dir of its own that it removes again when it fails. */
async function startClamdOnce(clamd: string, streamMaxBytes: number): Promise<TestClamd> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-clamd-'));
  const db = join(dir, 'db');
  await mkdir(db);
  await writeFile(join(db, 'mailfleet-test.ndb'), `${EICAR_SIGNATURE}:0:*:${Buffer.from(EICAR, 'latin1').toString('hex')}\n`);
  const port = await freePort();
  const socket = join(dir, 'clamd.sock');
  const conf = join(dir, 'clamd.conf');
  const logFile = join(dir, 'clamd.log');
  await writeFile(
    conf,
    [
      'Foreground yes',
      `DatabaseDirectory ${db}`,
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `LocalSocket ${socket}`,
      `LogFile ${logFile}`,
      `PidFile ${join(dir, 'clamd.pid')}`,
      `StreamMaxLength ${streamMaxBytes}`,
      // No bytecode database is installed and none is wanted.
      'Bytecode no',
      '',
    ].join('\n'),
  );
  const daemon = startDaemon(clamd, ['--config-file', conf]);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  try {
    await waitReady(daemon, 'clamd', () => ping(socket));
  } catch (err) {
    // clamd writes its bind error to its log: the message carries it, so a taken port is retried.
    const message = `${(err as Error).message}\nclamd log:\n${await log()}`;
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
    throw new Error(message, { cause: err });
  }
  return {
    tcp: `127.0.0.1:${port}`,
    unix: `unix:${socket}`,
    streamMaxBytes,
    log,
    dispose: async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** clamd's PING → PONG on the unix socket. */
function ping(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(out.startsWith('PONG')));
    s.on('connect', () => s.end('zPING\0'));
  });
}
