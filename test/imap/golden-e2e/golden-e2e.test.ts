/**
 * The golden answers of test/fixtures/imap-golden (Dovecot 2.3.19.1) through a
 * real node, end to end: every message is APPENDed over a raw socket with its
 * exact bytes and the golden INTERNALDATE into its own mailbox, SELECTed, and
 * each golden `FETCH 1 (<item>)` is sent as Dovecot received it. The untagged
 * FETCH response must equal the golden `response.chunks` byte for byte: this
 * covers what the module-level golden test (test/imap/message/golden.test.ts)
 * cannot — the session's quoting/literal choice, untagged framing
 * (RFC 3501 §7.4.2, §4.3) and that the store gives back the bytes it got.
 *
 * Then search.json's `setup` is replayed into one mailbox (APPENDs with their
 * dates, STOREs) and its 34 queries run through the server; messages listed
 * in a query's `depends_on_dovecot_choice` are left out of the comparison
 * (the golden set's README: RFC 3501 leaves their membership open).
 *
 * One node, one connection; FETCHes and queries are pipelined.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';
import { WireClient } from './wire-client';

// In the repository (see its PROVENANCE.md); a missing fixture fails the file, never skips it.
const GOLDEN_DIR = path.resolve(__dirname, '..', '..', 'fixtures', 'imap-golden');

type Chunk = { line: string } | { literal: { size: number; b64: string } };
interface CommandRecord {
  command: string;
  literal?: string;
  status: 'OK' | 'NO' | 'BAD';
}
interface GoldenFile {
  message: string;
  eml: { path: string };
  setup: { mailbox: string; internaldate: string; append: CommandRecord };
  fetch: Record<string, CommandRecord & { untagged?: string[]; response: { chunks: Chunk[] } }>;
}
interface SearchFixture {
  mailbox: string;
  messages: Array<{ seq: number; uid: number; name: string; reported: { flags: string[]; internaldate: string; rfc822_size: number } }>;
  setup: CommandRecord[];
  queries: Array<{
    id: string;
    command: string;
    command_b64?: string;
    status: string;
    result: number[];
    result_kind: 'seq' | 'uid';
    depends_on_dovecot_choice?: string[];
  }>;
}

/**
 * Items where our bytes may differ from Dovecot's because RFC 3501 allows
 * both (e.g. quoted vs literal, §4.3). Each entry: message, item, RFC
 * section, reason. None are needed today; an entry here would still require
 * the same item name and a tagged OK.
 */
const ALLOWED_DIFFERENCES: ReadonlyArray<{ message: string; item: string; rfc: string; why: string }> = [];

function goldenBytes(chunks: Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => ('line' in c ? Buffer.from(c.line, 'latin1') : Buffer.from(c.literal.b64, 'base64'))));
}

const files: GoldenFile[] = readdirSync(path.join(GOLDEN_DIR, 'golden'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'golden', f), 'utf8')) as GoldenFile);
const fixture = JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'search.json'), 'utf8')) as SearchFixture;

interface FetchOutcome {
  tagged: string;
  fetches: Buffer[];
  others: string[];
}

let node: TestNode;
let client: WireClient;
let tagNo = 0;
const nextTag = (): string => `g${++tagNo}`;
/** `<message>\t<item>` → what the server answered. */
const outcomes = new Map<string, FetchOutcome>();
const setupFailures: string[] = [];
const stats = { fetchExact: 0, fetchAllowed: 0, fetchTotal: 0, searchExact: 0, searchTotal: 0 };

/** Splits `APPEND "box" "date" {N}` into the part before the literal marker and N. */
function literalHead(command: string): { head: string; size: number } {
  const m = /^(.*) \{(\d+)\}$/.exec(command);
  if (!m) throw new Error(`no literal marker in ${command}`);
  return { head: m[1], size: Number(m[2]) };
}

async function appendRecord(rec: CommandRecord): Promise<string> {
  if (!rec.literal) throw new Error(`APPEND without literal: ${rec.command}`);
  const bytes = readFileSync(path.join(GOLDEN_DIR, rec.literal));
  const { head, size } = literalHead(rec.command);
  if (size !== bytes.length) throw new Error(`${rec.literal}: ${bytes.length} bytes, command says ${size}`);
  const r = await client.literalCommand(nextTag(), head, bytes);
  return r.tagged;
}

describe('golden answers end to end through a node (test/fixtures/imap-golden)', () => {
  beforeAll(async () => {
    node = await startTestNode();
    client = await WireClient.connect(node.imapPort);
    const greeting = (await client.next()).toString('latin1');
    if (!greeting.startsWith('* OK')) throw new Error(`greeting: ${greeting}`);
    const login = await client.command(nextTag(), `LOGIN "${ALICE.address}" "${ALICE.password}"`);
    if (!/^\S+ OK/.test(login.tagged)) throw new Error(`login: ${login.tagged}`);

    for (const g of files) {
      const box = g.setup.mailbox;
      const created = await client.command(nextTag(), `CREATE "${box}"`);
      const appended = await appendRecord(g.setup.append);
      const selected = await client.command(nextTag(), `SELECT "${box}"`);
      for (const [what, tagged] of [['CREATE', created.tagged], ['APPEND', appended], ['SELECT', selected.tagged]]) {
        if (!/^\S+ OK/.test(tagged)) setupFailures.push(`${g.message} ${what}: ${tagged}`);
      }
      // Pipeline every FETCH of this message, then read the replies in order.
      const items = Object.keys(g.fetch);
      const tags = items.map(() => nextTag());
      client.write(items.map((item, i) => `${tags[i]} ${g.fetch[item].command}\r\n`).join(''));
      for (let i = 0; i < items.length; i++) {
        const r = await client.collect(tags[i]);
        const fetches = r.untagged.filter((b) => b.toString('latin1').startsWith('* 1 FETCH '));
        const others = r.untagged.filter((b) => !b.toString('latin1').startsWith('* 1 FETCH ')).map((b) => b.toString('latin1'));
        outcomes.set(`${g.message}\t${items[i]}`, { tagged: r.tagged.slice(tags[i].length + 1), fetches, others });
      }
    }
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await node?.dispose();
  });

  it('creates, appends (exact bytes, golden INTERNALDATE) and selects every golden mailbox', () => {
    expect(files.length).toBe(31);
    expect(setupFailures).toEqual([]);
  });

  for (const g of files) {
    describe(g.message, () => {
      for (const [item, rec] of Object.entries(g.fetch)) {
        it(`FETCH 1 (${item})`, () => {
          stats.fetchTotal++;
          const got = outcomes.get(`${g.message}\t${item}`);
          expect(got, 'no answer recorded').toBeDefined();
          expect(got!.tagged).toMatch(new RegExp(`^${rec.status} `));
          // Dovecot sent exactly one untagged FETCH and nothing else.
          expect(got!.others).toEqual(rec.untagged ?? []);
          expect(got!.fetches).toHaveLength(1);
          const ours = got!.fetches[0];
          const theirs = goldenBytes(rec.response.chunks);
          const allowed = ALLOWED_DIFFERENCES.find((d) => d.message === g.message && d.item === item);
          if (allowed && !ours.equals(theirs)) {
            stats.fetchAllowed++;
            return;
          }
          expect(ours.toString('latin1')).toBe(theirs.toString('latin1'));
          stats.fetchExact++;
        });
      }
    });
  }

  describe('SEARCH fixture replayed through the server (RFC 3501 §6.4.4)', () => {
    const f = fixture;
    const nameBySeq = new Map(f.messages.map((m) => [m.seq, m.name]));
    const results = new Map<string, { tagged: string; found: number[] | null }>();
    let setupLog: string[] = [];
    let reported: Map<number, string> | undefined;
    let uidsEqualSeqs = false;

    beforeAll(async () => {
      setupLog = [];
      for (const rec of f.setup) {
        let tagged: string;
        let untagged: Buffer[] = [];
        if (rec.literal) tagged = await appendRecord(rec);
        else ({ tagged, untagged } = await client.command(nextTag(), rec.command));
        setupLog.push(`${rec.command} → ${tagged.replace(/^\S+ /, '')}`);
        if (rec.command.startsWith('FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)')) {
          reported = new Map();
          for (const b of untagged) {
            const m = /^\* (\d+) FETCH \((.*)\)\r\n$/.exec(b.toString('latin1'));
            if (m) reported.set(Number(m[1]), m[2]);
          }
        }
      }
      const uids = await client.command(nextTag(), 'FETCH 1:* (UID)');
      const pairs = uids.untagged.map((b) => /^\* (\d+) FETCH \(UID (\d+)\)/.exec(b.toString('latin1'))).filter((m) => m !== null);
      uidsEqualSeqs = pairs.length === f.messages.length && pairs.every((m) => m[1] === m[2]);

      // Pipelined: every query without a literal goes out at once.
      const plain = f.queries.filter((q) => !q.command_b64);
      const tags = plain.map(() => nextTag());
      client.write(plain.map((q, i) => `${tags[i]} ${q.command}\r\n`).join(''));
      for (let i = 0; i < plain.length; i++) results.set(plain[i].id, parseSearch(await client.collect(tags[i]), tags[i]));
      // CHARSET UTF-8 queries carry a synchronising literal: wait for `+` (RFC 3501 §7.5).
      for (const q of f.queries.filter((x) => x.command_b64)) {
        const bytes = Buffer.from(q.command_b64 as string, 'base64');
        const crlf = bytes.indexOf('\r\n');
        const { head, size } = literalHead(bytes.subarray(0, crlf).toString('utf8'));
        const literal = bytes.subarray(crlf + 2, crlf + 2 + size);
        const tail = bytes.subarray(crlf + 2 + size).toString('utf8');
        const tag = nextTag();
        results.set(q.id, parseSearch(await client.literalCommand(tag, head, literal, tail), tag));
      }
    }, 30_000);

    function parseSearch(r: { untagged: Buffer[]; tagged: string }, tag: string): { tagged: string; found: number[] | null } {
      const line = r.untagged.map((b) => b.toString('latin1')).find((l) => l.startsWith('* SEARCH'));
      const found = line === undefined ? null : line.trim().split(' ').slice(2).filter(Boolean).map(Number);
      return { tagged: r.tagged.slice(tag.length + 1), found };
    }

    it('replays the setup: every command OK, flags/dates/sizes as Dovecot reported them (\\Recent aside)', () => {
      expect(setupLog.filter((l) => !/→ OK/.test(l))).toEqual([]);
      expect(uidsEqualSeqs).toBe(true);
      expect(reported?.size).toBe(f.messages.length);
      for (const m of f.messages) {
        const ours = reported!.get(m.seq) ?? '';
        const flags = /FLAGS \(([^)]*)\)/.exec(ours)?.[1].split(' ').filter((x) => x && x !== '\\Recent').sort();
        expect(flags, m.name).toEqual(m.reported.flags.filter((x) => x !== '\\Recent').sort());
        expect(ours, m.name).toContain(`INTERNALDATE "${m.reported.internaldate}"`);
        expect(ours, m.name).toContain(`RFC822.SIZE ${m.reported.rfc822_size}`);
      }
    });

    it('the fixture is complete: 34 queries over 31 messages', () => {
      expect(f.messages).toHaveLength(31);
      expect(f.queries).toHaveLength(34);
    });

    for (const q of f.queries) {
      it(`${q.id}: ${q.command.replace(/\r\n/g, ' ')}`, () => {
        stats.searchTotal++;
        const r = results.get(q.id);
        expect(r, 'no answer recorded').toBeDefined();
        expect(r!.tagged).toMatch(new RegExp(`^${q.status} `));
        expect(r!.found).not.toBeNull();
        const skip = new Set(q.depends_on_dovecot_choice ?? []);
        // UIDs equal sequence numbers in this mailbox (checked in the setup test).
        const keep = (n: number): boolean => !skip.has(nameBySeq.get(n) ?? '');
        expect(r!.found!.filter(keep)).toEqual(q.result.filter(keep));
        stats.searchExact++;
      });
    }
  });

  it('reports the match counts', () => {
    // For the record; the per-item tests above are the assertions.
    console.log(
      `golden e2e: FETCH ${stats.fetchExact} byte-exact, ${stats.fetchAllowed} allowed differences, of ${stats.fetchTotal}; ` +
        `SEARCH ${stats.searchExact} matching (Dovecot-choice messages excluded) of ${stats.searchTotal}`,
    );
    expect(stats.fetchExact + stats.fetchAllowed).toBe(stats.fetchTotal);
    expect(stats.searchExact).toBe(stats.searchTotal);
  });
});
