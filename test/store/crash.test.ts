import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { KeywordLetters, parseUidlist } from '../../mail-runtime/store/dovecot';
import { flagsFromFileName } from '../../mail-runtime/store/flags';
import { tempRoot, userDir } from './helpers';

const ADDR = 'crash@example.org';
const WRITER = path.join(__dirname, 'fixtures', 'crash-writer.ts');
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

interface Ack {
  uid: number;
  id: string;
  flagged: boolean;
}

/** Run the writer until it acknowledged `killAfter` appends, then SIGKILL it. */
function runAndKill(epoch: number, round: number, killAfter: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, root, ADDR, String(epoch), String(round)], {
      cwd: path.resolve(__dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let buf = '';
    let err = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ACK (\d+) (\S+)( F)?$/.exec(line);
        if (m) acks.push({ uid: Number(m[1]), id: m[2], flagged: m[3] !== undefined });
        if (!killed && acks.length >= killAfter) {
          killed = true;
          child.kill('SIGKILL'); // mid-stream: other appends are in flight
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acks);
      else reject(new Error(`writer exited ${code}: ${err}`));
    });
  });
}

describe('crash safety (kill -9 during a stream of appends)', () => {
  it('every acknowledged message is present with its UID; index and files agree; UIDs stay stable', async () => {
    const all: Ack[] = [];
    // round 1 and 2 restart under the same epoch, round 3 is a takeover by a newer epoch
    const rounds = [
      { epoch: 1, killAfter: 40 },
      { epoch: 1, killAfter: 60 },
      { epoch: 2, killAfter: 50 },
    ];
    for (const [i, r] of rounds.entries()) {
      const acks = await runAndKill(r.epoch, i + 1, r.killAfter);
      expect(acks.length).toBeGreaterThanOrEqual(r.killAfter);
      all.push(...acks);

      // dovecot-uidlist as the killed process left it (the next open repairs it, so read it first).
      const dir0 = userDir(root, ADDR);
      const leftList = parseUidlist(fs.readFileSync(path.join(dir0, 'dovecot-uidlist'), 'utf8'));
      if (typeof leftList === 'string') throw new Error(`dovecot-uidlist broken after kill -9: ${leftList}`);
      const curNames = fs.readdirSync(path.join(dir0, 'cur'));
      const listedBytes = new Map(
        leftList.records.map((rec) => [rec.uid, fs.readFileSync(path.join(dir0, 'cur', curNames.find((n) => n.startsWith(`${rec.base}:`))!))]),
      );

      const store = new MailStore({ root });
      const inbox = await (await store.openUser(ADDR, { epoch: r.epoch })).openFolder('INBOX');
      // The open's reconcile renames files whose letters lag the index only after it resolved
      // (folder.ts runBatch: resolve, then renames, then afterCommit); the folder's queue runs
      // in order, so the next operation starts once they are done.
      await inbox.refresh();
      const list = inbox.messages();
      // It never named a UID the index does not have durably, nor a UID for another file.
      for (const rec of leftList.records) {
        expect(inbox.get(rec.uid), `dovecot-uidlist lists UID ${rec.uid}, which the index does not hold`).toBeDefined();
        expect(listedBytes.get(rec.uid)!.equals(await inbox.read(rec.uid))).toBe(true);
      }
      expect(leftList.uidValidity).toBe(inbox.uidValidity);
      // Repaired on open: exactly the indexed messages, each file's letters as dovecot-keywords says.
      const repaired = parseUidlist(fs.readFileSync(path.join(dir0, 'dovecot-uidlist'), 'utf8'));
      if (typeof repaired === 'string') throw new Error(repaired);
      expect(repaired.records.map((x) => x.uid)).toEqual(list.map((m) => m.uid));
      expect(Math.max(repaired.nextUid, repaired.records[repaired.records.length - 1].uid + 1)).toBe(inbox.uidNext);
      const letters = KeywordLetters.parse(fs.readFileSync(path.join(dir0, 'dovecot-keywords'), 'utf8'));
      for (const rec of repaired.records) {
        const file = fs.readdirSync(path.join(dir0, 'cur')).find((n) => n.startsWith(`${rec.base}:`))!;
        expect([...flagsFromFileName(file, letters)].sort()).toEqual([...inbox.get(rec.uid)!.flags].sort());
      }
      const uids = list.map((m) => m.uid);
      expect(uids).toEqual([...uids].sort((a, b) => a - b));
      expect(new Set(uids).size).toBe(uids.length);
      expect(inbox.uidNext).toBeGreaterThan(uids[uids.length - 1]);
      for (const a of all) {
        const meta = inbox.get(a.uid);
        expect(meta, `acknowledged UID ${a.uid} (${a.id}) is missing`).toBeDefined();
        const raw = (await inbox.read(a.uid)).toString();
        expect(raw).toContain(`Subject: ${a.id}\r\n`);
        expect(meta!.size).toBe(Buffer.byteLength(raw));
        if (a.flagged) expect(meta!.flags).toContain('\\Flagged');
      }
      // every message file is indexed and every indexed message has its file; nothing left in tmp/new
      const dir = userDir(root, ADDR);
      expect(fs.readdirSync(path.join(dir, 'cur'))).toHaveLength(list.length);
      expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
      expect(fs.readdirSync(path.join(dir, 'new'))).toEqual([]);
      for (const m of list) expect((await inbox.read(m.uid)).length).toBe(m.size);
      await store.close();
    }
  }, 60_000);
});
