import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { problemsFromZod } from '../../config';
import { HubError } from '../errors';
import { ImportRow } from '../protocol';
import type { DirectoryStore } from './store';

/**
 * Bulk import of users from CSV or NDJSON, through the admin API
 * (`POST /v1/users/import`) or `importUsers()` directly. The whole import is
 * one transaction (nothing half-imported) written in batches; between batches
 * the hub's event loop runs, so heartbeats keep being answered during a
 * million-row import.
 *
 * CSV: a header line naming the columns, then one user per line:
 *
 *   address,passwordHash,quotaBytes,quotaMessages,enabled
 *   alice@example.net,scrypt$32768$8$1$...$...,1073741824,,true
 *
 * (`address` and `passwordHash` required; empty cells are absent values.)
 * NDJSON: one ImportRow object per line. Blank lines are skipped.
 */

export type ImportFormat = 'csv' | 'ndjson';

/** Rows per insert batch: large enough to amortise the statement, small enough to keep each loop turn around 10 ms. */
export const IMPORT_BATCH_ROWS = 2000;
/** A longer line is refused: a user row is a few hundred bytes; this bounds memory against a line without end. */
export const IMPORT_MAX_LINE_BYTES = 16 * 1024;
/** Validation problems listed before the import gives up (the first ones are what the operator needs). */
const MAX_PROBLEMS = 20;
const CSV_COLUMNS = ['address', 'passwordHash', 'quotaBytes', 'quotaMessages', 'enabled'] as const;

/** Splits a byte stream into lines, refusing over-long ones. */
async function* lines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of source) {
    rest += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
    }
    if (Buffer.byteLength(rest) > IMPORT_MAX_LINE_BYTES) throw new HubError('bad_request', `a line is longer than ${IMPORT_MAX_LINE_BYTES} bytes`);
  }
  if (rest.length > 0) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

/** RFC 4180 fields of one CSV line (quotes allowed, `""` inside quotes is a quote). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('unterminated quoted field');
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new Error('text after a closing quote');
    } else {
      const end = line.indexOf(',', i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      i = end < 0 ? line.length : end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

function csvRow(header: readonly string[], fields: string[]): Record<string, unknown> {
  const cell = (name: string) => {
    const idx = header.indexOf(name);
    const v = idx >= 0 ? fields[idx]?.trim() : undefined;
    return v === undefined || v === '' ? undefined : v;
  };
  const num = (v: string | undefined) => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);
  const bytes = num(cell('quotaBytes'));
  const messages = num(cell('quotaMessages'));
  const enabled = cell('enabled');
  return {
    address: cell('address'),
    passwordHash: cell('passwordHash'),
    ...(bytes !== undefined || messages !== undefined ? { quota: { ...(bytes !== undefined ? { bytes } : {}), ...(messages !== undefined ? { messages } : {}) } } : {}),
    ...(enabled !== undefined ? { enabled: /^(true|1|yes)$/i.test(enabled) ? true : /^(false|0|no)$/i.test(enabled) ? false : enabled } : {}),
  };
}

export interface ImportOutcome {
  imported: number;
  ms: number;
}

/**
 * Imports users from `source`. Throws HubError (bad_request) naming each bad
 * line and field (up to 20), and then nothing has been imported.
 */
export async function importUsers(dir: DirectoryStore, source: AsyncIterable<Buffer | string>, opts: { format: ImportFormat; mode: 'insert' | 'upsert' }): Promise<ImportOutcome> {
  const started = Date.now();
  const session = dir.beginImport(opts.mode);
  const problems: { path: string; message: string }[] = [];
  let header: string[] | undefined;
  let batch: ImportRow[] = [];
  let batchFirstLine = 0;
  let lineNo = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    session.add(batch, batchFirstLine);
    batch = [];
    await yieldToLoop();
  };
  try {
    for await (const line of lines(source)) {
      lineNo++;
      if (line.trim() === '') continue;
      let raw: unknown;
      try {
        if (opts.format === 'ndjson') raw = JSON.parse(line);
        else if (!header) {
          header = csvFields(line).map((h) => h.trim());
          const unknown = header.filter((h) => !(CSV_COLUMNS as readonly string[]).includes(h));
          const missing = ['address', 'passwordHash'].filter((h) => !header!.includes(h));
          if (unknown.length || missing.length) {
            throw new HubError('bad_request', 'bad CSV header', [
              { path: 'line 1', message: `the header must name columns of ${CSV_COLUMNS.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}${unknown.length ? `; unknown ${unknown.join(', ')}` : ''}` },
            ]);
          }
          continue;
        } else raw = csvRow(header, csvFields(line));
      } catch (err) {
        if (err instanceof HubError) throw err;
        problems.push({ path: `line ${lineNo}`, message: `not valid ${opts.format === 'csv' ? 'CSV' : 'JSON'}: ${(err as Error).message}` });
        if (problems.length >= MAX_PROBLEMS) break;
        continue;
      }
      const parsed = ImportRow.safeParse(raw);
      if (!parsed.success) {
        for (const p of problemsFromZod(parsed.error)) problems.push({ path: `line ${lineNo}.${p.path}`, message: p.message });
        if (problems.length >= MAX_PROBLEMS) break;
        continue;
      }
      if (problems.length > 0) continue; // keep reading for more problems, write nothing more
      if (batch.length === 0) batchFirstLine = lineNo;
      batch.push(parsed.data);
      if (batch.length >= IMPORT_BATCH_ROWS) await flush();
    }
    if (problems.length > 0) throw new HubError('bad_request', `import refused: ${problems.length}${problems.length >= MAX_PROBLEMS ? '+' : ''} bad lines, nothing imported`, problems.slice(0, MAX_PROBLEMS));
    await flush();
    const imported = session.commit();
    return { imported, ms: Date.now() - started };
  } catch (err) {
    session.abort();
    throw err;
  }
}
