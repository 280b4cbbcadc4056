/**
 * Records an IMAP server's FETCH answers for the messages of a golden
 * folder (test/fixtures/imap-golden-extra by default), in the
 * `imap-golden-fetch/1` format of test/fixtures/imap-golden/README.md.
 * Run by hand against Dovecot on loopback to make the fixtures (see that
 * folder's PROVENANCE.md); the tests never run it.
 *
 *   npx tsx test/imap/golden-e2e/record-golden.ts --port 14399 --user alice --password alice-pw \
 *     [--dir test/fixtures/imap-golden-extra] [--only x01_a,x02_b] [--software Dovecot --version "2.3.19.1 (9b53102964)"] [--dry-run]
 *
 * For each `messages/<name>.eml`: CREATE `golden-extra-<name>` (DELETE first
 * if it exists), APPEND with INTERNALDATE 01-Jan-2024 00:00:00 +0000 and no
 * flags, SELECT, then one `FETCH 1 (<item>)` per item: ENVELOPE,
 * BODYSTRUCTURE, BODY, RFC822.SIZE, BODY.PEEK[HEADER], BODY.PEEK[TEXT], and
 * for every MIME part the server's BODYSTRUCTURE shows (nested ones too)
 * BODY.PEEK[n] and BODY.PEEK[n.MIME], plus BODY.PEEK[n.HEADER] and
 * BODY.PEEK[n.TEXT] for message/rfc822 parts. A final BODY.PEEK[] checks
 * that the server stored the message byte for byte. With --dry-run the
 * answers are printed, not written (handy to compare our server).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WireClient } from './wire-client';

const INTERNALDATE = '01-Jan-2024 00:00:00 +0000';

type Chunk = { line: string } | { literal: { size: number; b64: string; utf8: string } };

function option(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

/** Splits one response into lines and literals, as the golden format records them. */
function chunksOf(bytes: Buffer): Chunk[] {
  const out: Chunk[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const lf = bytes.indexOf('\r\n', pos);
    const end = lf < 0 ? bytes.length : lf + 2;
    const line = bytes.toString('latin1', pos, end);
    out.push({ line });
    pos = end;
    const m = /\{(\d+)\}\r\n$/.exec(line);
    if (m) {
      const lit = bytes.subarray(pos, pos + Number(m[1]));
      out.push({ literal: { size: lit.length, b64: lit.toString('base64'), utf8: lit.toString('utf8') } });
      pos += lit.length;
    }
  }
  return out;
}

/** A response value: a string (quoted or literal), NIL, an atom or number, or a list. */
type Val = { t: 'str'; v: Buffer } | { t: 'nil' } | { t: 'atom'; v: string } | List;
interface List {
  t: 'list';
  items: Val[];
}

/**
 * Reads response values (RFC 3501 §9 body, envelope): lists, quoted strings,
 * literals, NIL and atoms. Not the command reader: server responses put no
 * space between a multipart's body parts (`body-type-mpart = 1*body SP ...`).
 */
function parseValues(buf: Buffer, start: number, close?: number): { items: Val[]; end: number } {
  const items: Val[] = [];
  let i = start;
  for (;;) {
    while (buf[i] === 0x20) i++;
    if (i >= buf.length || buf[i] === 0x0d) return { items, end: i };
    const c = buf[i];
    if (c === close) return { items, end: i + 1 };
    if (c === 0x28) {
      const inner = parseValues(buf, i + 1, 0x29);
      items.push({ t: 'list', items: inner.items });
      i = inner.end;
    } else if (c === 0x22) {
      const bytes: number[] = [];
      for (i++; buf[i] !== 0x22; i++) bytes.push(buf[i] === 0x5c ? buf[++i] : buf[i]);
      items.push({ t: 'str', v: Buffer.from(bytes) });
      i++;
    } else if (c === 0x7b) {
      const rb = buf.indexOf('}', i);
      const size = Number(buf.toString('latin1', i + 1, rb));
      items.push({ t: 'str', v: buf.subarray(rb + 3, rb + 3 + size) });
      i = rb + 3 + size;
    } else {
      let j = i;
      let depth = 0;
      while (j < buf.length && (depth > 0 || (buf[j] !== 0x20 && buf[j] !== 0x29 && buf[j] !== 0x0d))) {
        if (buf[j] === 0x5b) depth++;
        if (buf[j] === 0x5d) depth--;
        j++;
      }
      const a = buf.toString('latin1', i, j);
      items.push(a.toUpperCase() === 'NIL' ? { t: 'nil' } : { t: 'atom', v: a });
      i = j;
    }
  }
}

/** The parsed data items of `* 1 FETCH (...)`. */
function fetchItems(bytes: Buffer): Val[] {
  const prefix = '* 1 FETCH (';
  if (!bytes.toString('latin1', 0, prefix.length).startsWith(prefix)) throw new Error(`not a FETCH: ${bytes.toString('latin1', 0, 80)}`);
  return parseValues(bytes, prefix.length, 0x29).items;
}

/** The data item name as the server returned it: `BODY[1.MIME]`, `BODY[]<0>`, `ENVELOPE`. */
function itemName(data: string): string {
  const m = /^[A-Z0-9.]+(\[[^\]]*\](<\d+>)?)?/i.exec(data);
  return m ? m[0] : '';
}

const text = (v: Val | undefined): string => (v?.t === 'str' ? v.v.toString('latin1') : '').toLowerCase();

/** Section paths of every part in a BODYSTRUCTURE, depth first (RFC 3501 §6.4.5 part numbering). */
function partPaths(bs: List): { path: string; rfc822: boolean }[] {
  const out: { path: string; rfc822: boolean }[] = [];
  const walk = (node: List, prefix: string): void => {
    // body-type-mpart: the leading lists are the parts, then the subtype string.
    const children: List[] = [];
    for (const item of node.items) {
      if (item.t !== 'list') break;
      children.push(item);
    }
    children.forEach((child, i) => visit(child, prefix ? `${prefix}.${i + 1}` : `${i + 1}`));
  };
  const visit = (node: List, p: string): void => {
    if (node.items[0]?.t === 'list') {
      out.push({ path: p, rfc822: false });
      walk(node, p);
      return;
    }
    const rfc822 = text(node.items[0]) === 'message' && text(node.items[1]) === 'rfc822';
    out.push({ path: p, rfc822 });
    const inner = node.items[8];
    if (rfc822 && inner?.t === 'list') {
      if (inner.items[0]?.t === 'list') walk(inner, p);
      else out.push({ path: `${p}.1`, rfc822: false });
    }
  };
  if (bs.items[0]?.t === 'list') walk(bs, '');
  else out.push({ path: '1', rfc822: false });
  return out;
}

interface Rec {
  command: string;
  status: string;
  tagged: string;
  untagged: string[];
}

async function main(): Promise<void> {
  const port = Number(option('port'));
  const dir = path.resolve(option('dir', 'test/fixtures/imap-golden-extra'));
  const dryRun = process.argv.includes('--dry-run');
  const software = option('software', 'Dovecot');
  const version = option('version', '2.3.19.1 (9b53102964)');
  const c = await WireClient.connect(port);
  await c.next();
  let n = 0;
  const tag = (): string => `r${++n}`;
  const record = (command: string, r: { untagged: Buffer[]; tagged: string }, t: string): Rec => {
    const tagged = r.tagged.slice(t.length + 1);
    return { command, status: tagged.split(' ')[0], tagged, untagged: r.untagged.map((b) => b.toString('latin1')) };
  };
  const run = async (command: string): Promise<Rec & { raw: Buffer[] }> => {
    const t = tag();
    const r = await c.command(t, command);
    return { ...record(command, r, t), raw: r.untagged };
  };
  const login = await run(`LOGIN "${option('user')}" "${option('password')}"`);
  if (login.status !== 'OK') throw new Error(`login: ${login.tagged}`);

  const only = process.argv.includes('--only') ? new Set(option('only').split(',')) : undefined;
  const names = readdirSync(path.join(dir, 'messages'))
    .filter((f) => f.endsWith('.eml'))
    .map((f) => f.slice(0, -4))
    .filter((n) => !only || only.has(n))
    .sort();
  for (const name of names) {
    const emlPath = `messages/${name}.eml`;
    const eml = readFileSync(path.join(dir, emlPath));
    const mailbox = `golden-extra-${name}`;
    await run('UNSELECT');
    await run(`DELETE "${mailbox}"`);
    const { raw: _c, ...create } = await run(`CREATE "${mailbox}"`);
    const head = `APPEND "${mailbox}" "${INTERNALDATE}"`;
    const t = tag();
    const appended = record(`${head} {${eml.length}}`, await c.literalCommand(t, head, eml), t);
    const { raw: _s, ...select } = await run(`SELECT "${mailbox}"`);
    if (create.status !== 'OK' || appended.status !== 'OK' || select.status !== 'OK') throw new Error(`${name}: setup failed`);

    const bsRec = await run('FETCH 1 (BODYSTRUCTURE)');
    const bsItems = fetchItems(bsRec.raw[0]);
    const bs = bsItems[1];
    if (bs?.t !== 'list') throw new Error(`${name}: no BODYSTRUCTURE`);
    const paths = partPaths(bs);
    const items = ['ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822.SIZE', 'BODY.PEEK[HEADER]', 'BODY.PEEK[TEXT]'];
    for (const p of paths) {
      items.push(`BODY.PEEK[${p.path}]`, `BODY.PEEK[${p.path}.MIME]`);
      if (p.rfc822) items.push(`BODY.PEEK[${p.path}.HEADER]`, `BODY.PEEK[${p.path}.TEXT]`);
    }
    const fetch: Record<string, unknown> = {};
    for (const item of items) {
      const r = await run(`FETCH 1 (${item})`);
      const fetches = r.raw.filter((b) => b.toString('latin1').startsWith('* 1 FETCH '));
      if (fetches.length !== 1) throw new Error(`${name} ${item}: ${fetches.length} FETCH responses`);
      const bytes = fetches[0];
      const inner = bytes.subarray('* 1 FETCH ('.length, bytes.length - ')\r\n'.length);
      const utf8 = inner.toString('utf8');
      const exact = Buffer.from(utf8, 'utf8').equals(inner);
      fetch[item] = {
        command: r.command,
        status: r.status,
        tagged: r.tagged,
        untagged: r.untagged.filter((u) => !u.startsWith('* 1 FETCH ')),
        response: {
          chunks: chunksOf(bytes),
          ...(exact ? { data_utf8: utf8 } : { data_b64: inner.toString('base64'), data_utf8_lossy: true }),
          item: itemName(inner.toString('latin1')),
        },
      };
      if (dryRun) process.stdout.write(`${name}\t${item}\n${bytes.toString('latin1')}`);
    }
    const whole = await run('FETCH 1 (BODY.PEEK[])');
    const wholeBytes = chunksOf(whole.raw[0]).flatMap((ch) => ('literal' in ch ? [Buffer.from(ch.literal.b64, 'base64')] : []));
    const identical = wholeBytes.length === 1 && wholeBytes[0].equals(eml);
    const out = {
      format: 'imap-golden-fetch/1',
      message: name,
      eml: { path: emlPath, size: eml.length, sha256: createHash('sha256').update(eml).digest('hex') },
      server: {
        software,
        version,
        mail_location: 'maildir:~/Maildir',
        timezone: 'UTC (TZ of the server process)',
        config: 'private loopback configuration (no FTS plugin)',
      },
      setup: {
        mailbox,
        create,
        append: { ...appended, literal: emlPath },
        internaldate: INTERNALDATE,
        flags: [],
        select,
        fetched_as: 'FETCH 1 (<item>) -- sequence number 1 = UID 1, one item per command',
        stored_message_identical: identical,
      },
      multipart: bs.items[0]?.t === 'list',
      top_level_parts: bs.items[0]?.t === 'list' ? bs.items.filter((i) => i.t === 'list').length : 1,
      fetch,
    };
    if (!identical) throw new Error(`${name}: the server did not store the message byte for byte`);
    if (!dryRun) writeFileSync(path.join(dir, 'golden', `${name}.json`), `${JSON.stringify(out, null, 1)}\n`);
    process.stderr.write(`${name}: ${items.length} items\n`);
  }
  await run('LOGOUT');
  c.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
