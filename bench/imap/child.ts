import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

export interface NodeChild {
  pid: number;
  imapPort: number;
  pop3Port: number;
  /** VmRSS of the server process in bytes (from /proc/<pid>/status). */
  rss(): Promise<number>;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** Resident set size of a process, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * Runs the node role as a child process (`mail-runtime/node/main.ts`, the
 * same entry `mailfleet node` uses) on loopback with free ports, storage and
 * users file in `dir`, so its memory can be read apart from the bench's own
 * client sockets. Waits for the ready line (bounded).
 */
export async function startNodeChild(dir: string, usersFile: string, timeoutMs = 60_000): Promise<NodeChild> {
  const [imap, pop3, lmtp, mgmt] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'node.json');
  await writeFile(
    config,
    JSON.stringify({
      role: 'node',
      memberId: 'bench-node',
      cluster: 'bench',
      management: { host: '127.0.0.1', port: mgmt },
      storage: { path: join(dir, 'storage') },
      listen: {
        imap: { host: '127.0.0.1', port: imap },
        pop3: { host: '127.0.0.1', port: pop3 },
        lmtp: { host: '127.0.0.1', port: lmtp },
      },
      directory: { file: usersFile },
      logLevel: 'warn',
    }),
  );
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'mail-runtime/node/main.ts'), '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The config file says everything; MAILFLEET_* variables of the caller would override it.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_'))),
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const ready = await new Promise<{ imapPort: number; pop3Port: number }>((resolveReady, reject) => {
    let out = '';
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        clearTimeout(t);
        child.stdout?.off('data', onData);
        resolveReady(JSON.parse(line) as { imapPort: number; pop3Port: number });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`node exited with ${code}: ${stderr}`));
    });
  });
  const pid = child.pid as number;
  return {
    pid,
    imapPort: ready.imapPort,
    pop3Port: ready.pop3Port,
    rss: () => rssOf(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
