import { writeFile } from 'node:fs/promises';
import { hashPassword, type ScryptParams } from '../../mail-runtime/auth';

/** Small deterministic PRNG (mulberry32) so every run builds the same corpus. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is for on that with as by at from this be are was it an or not have has we you they will can ' +
  'report meeting budget quarter server cluster storage backup release network customer invoice schedule review ' +
  'project update status deploy config mailbox folder search index latency throughput failover replica archive ' +
  'monday tuesday friday morning evening agenda minutes summary details attached please thanks regards draft'
).split(' ');

/** A word the search bench looks for in bodies: present in about 1 % of the 100k messages. */
export const RARE_WORD = 'zebrafish';
/** The sender the search bench looks for: about 0.1 % of the 100k messages. */
export const RARE_SENDER = 'carol.quill';

function words(rnd: () => number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(rnd() * WORDS.length)]);
  return out.join(' ');
}

/** Text wrapped at ~72 columns, CRLF line ends (RFC 5322 §2.3). */
function paragraph(rnd: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let guard = 0; size < bytes && guard < 100_000; guard++) {
    const l = words(rnd, 10 + Math.floor(rnd() * 3));
    lines.push(l);
    size += l.length + 2;
  }
  return lines.join('\r\n') + '\r\n';
}

function dateHeader(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

/**
 * A ~1–1.5 KB text message for the 100,000-message folder. Index `i` decides
 * sender, subject and whether the rare word or rare sender appear.
 */
export function smallMessage(i: number, date: Date): Buffer {
  const rnd = prng(i + 1);
  const sender = i % 1000 === 7 ? RARE_SENDER : `user${Math.floor(rnd() * 500)}`;
  let body = paragraph(rnd, 600 + Math.floor(rnd() * 600));
  if (i % 100 === 42) body += `we saw a ${RARE_WORD} near the datacenter\r\n`;
  return Buffer.from(
    `From: ${sender} <${sender}@example${i % 37}.org>\r\n` +
      `To: Big Folder <big@bench.test>\r\n` +
      `Subject: ${words(rnd, 5)} #${i}\r\n` +
      `Date: ${dateHeader(date)}\r\n` +
      `Message-ID: <m${i}@bench.test>\r\n` +
      `MIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n` +
      `\r\n${body}`,
  );
}

/**
 * A 20–50 KB message for the FETCH bench: half plain text, half
 * multipart/mixed with a base64 attachment (RFC 2045/2046).
 */
export function largeMessage(i: number): Buffer {
  const rnd = prng(1_000_000 + i);
  const target = 20_000 + Math.floor(rnd() * 30_000);
  const head =
    `From: Sender ${i} <sender${i}@example.org>\r\nTo: fetch@bench.test\r\nSubject: large message ${i}\r\n` +
    `Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <large${i}@bench.test>\r\nMIME-Version: 1.0\r\n`;
  if (i % 2 === 0) {
    return Buffer.from(`${head}Content-Type: text/plain; charset=us-ascii\r\n\r\n${paragraph(rnd, target - head.length - 50)}`);
  }
  const b = `=_b${i}`;
  const text = paragraph(rnd, 2000);
  const attBytes = Math.max(1000, Math.floor(((target - head.length - text.length - 400) * 3) / 4));
  const att = Buffer.alloc(attBytes);
  for (let k = 0; k < attBytes; k++) att[k] = Math.floor(rnd() * 256);
  const b64 = att.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `${head}Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n` +
      `--${b}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${text}` +
      `--${b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n` +
      `Content-Disposition: attachment; filename="data${i}.bin"\r\n\r\n${b64}\r\n--${b}--\r\n`,
  );
}

export interface BenchUser {
  address: string;
  password: string;
  scrypt: ScryptParams;
}

/** Writes a users file in the directory format the node reads (as test/helpers/users.ts does). */
export async function writeUsers(file: string, users: readonly BenchUser[]): Promise<void> {
  const lines = ['users:'];
  // Hash concurrently (libuv pool); cheap parameters take microseconds anyway.
  const hashes = await Promise.all(users.map((u) => hashPassword(u.password, u.scrypt)));
  users.forEach((u, i) => lines.push(`  - address: ${u.address}`, `    password: "${hashes[i]}"`));
  await writeFile(file, `${lines.join('\n')}\n`);
}
