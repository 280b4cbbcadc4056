import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANCHOR_PROGRAMS, ANCHOR_USERS, runCommand } from './install';
import { freePorts } from './ports';
import { postfixMainCf, postfixMasterCf, postfixRecipients } from './postfix-config';
import { alive, treeMemory, type TreeMemory } from './procmem';
import { assertTraversable, waitForPort } from './dovecot';

export interface PostfixInstance {
  pid: number;
  dir: string;
  smtpPort: number;
  memory(): Promise<TreeMemory>;
  stop(): Promise<void>;
}

export interface PostfixOptions {
  /** An empty folder (absolute) for the instance: etc/, queue/, data/ and the log go in it. */
  dir: string;
  domain: string;
  recipients: readonly string[];
  /** Dovecot's LMTP port on 127.0.0.1. */
  lmtpPort: number;
  timeoutMs?: number;
}

function postfixCmd(configDir: string, verb: 'start' | 'stop' | 'abort' | 'check'): { status: number | null; output: string } {
  return runCommand(ANCHOR_PROGRAMS.postfix, ['-c', configDir, verb]);
}

/**
 * Starts a private Postfix (`postfix -c <dir>/etc start`: master runs as
 * root and drops to the postfix user per daemon, as a system Postfix does).
 * Postfix prints its fatal errors only to a terminal, so on failure the
 * instance's own maillog_file is quoted.
 */
export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  const { dir } = opts;
  const etc = join(dir, 'etc');
  await mkdir(etc, { recursive: true });
  // The postfix user's daemons must reach the queue: the folder is traversable (its parent too, see anchorSmtpTarget).
  await chmod(dir, 0o755);
  await assertTraversable(dir);
  await mkdir(join(dir, 'queue'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  const uid = Number(runCommand('id', ['-u', ANCHOR_USERS.postfix]).output.trim());
  if (!Number.isInteger(uid)) throw new Error('no postfix user');
  await chown(join(dir, 'data'), uid, -1);
  await writeFile(join(etc, 'recipients'), postfixRecipients(opts.recipients));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const logOf = async (): Promise<string> => (await readFile(join(dir, 'postfix.log'), 'utf8').catch(() => '')).split('\n').slice(-6).join('\n');

  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const [smtpPort] = await freePorts(1);
    await writeFile(join(etc, 'main.cf'), postfixMainCf({ dir, smtpPort, lmtpPort: opts.lmtpPort, domain: opts.domain, recipientsMap: 'recipients' }));
    await writeFile(join(etc, 'master.cf'), postfixMasterCf({ smtpPort }));
    const r = postfixCmd(etc, 'start');
    if (r.status !== 0) {
      lastErr = `postfix start exited with ${r.status}: ${r.output.trim()} ${await logOf()}`;
      postfixCmd(etc, 'abort');
      continue;
    }
    try {
      await waitForPort(smtpPort, timeoutMs, 'postfix smtpd');
    } catch (err) {
      lastErr = `${(err as Error).message}: ${await logOf()}`;
      postfixCmd(etc, 'abort');
      continue;
    }
    const pid = Number((await readFile(join(dir, 'queue', 'pid', 'master.pid'), 'utf8')).trim());
    return {
      pid,
      dir,
      smtpPort,
      memory: () => treeMemory(pid),
      stop: async () => {
        postfixCmd(etc, 'stop');
        // `postfix stop` returns once master was signalled; wait (bounded) until it is gone.
        for (let i = 0; i < 150; i++) {
          if (!(await alive(pid))) return;
          await new Promise((res) => setTimeout(res, 100));
        }
        postfixCmd(etc, 'abort');
      },
    };
  }
  throw new Error(`postfix did not start: ${lastErr}`);
}
