import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeModifiedUtf7, encodeModifiedUtf7, normalizeFolderName, StoreError } from '../../mail-runtime/store';
import { folderNameFromDisk, folderPath, parseAddress, userDirOf } from '../../mail-runtime/store/names';

const USER = path.resolve('/srv/mail/example.org/ann');

/** Either BADNAME, or a Maildir++ directory directly inside the user dir. */
function resolvesInside(name: string): boolean {
  let canonical: string;
  try {
    canonical = normalizeFolderName(name);
  } catch (e) {
    return e instanceof StoreError && e.code === 'BADNAME';
  }
  const p = path.resolve(folderPath(USER, canonical));
  if (canonical === 'INBOX') return p === USER;
  return path.dirname(p) === USER && path.basename(p).startsWith('.') && path.basename(p) !== '.' && path.basename(p) !== '..' && folderNameFromDisk(path.basename(p)) === canonical;
}

describe('RFC 3501 §5.1.3 modified UTF-7', () => {
  it.each([
    ['INBOX', 'INBOX'],
    ['&', '&-'],
    ['A & B', 'A &- B'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['😀', '&2D3eAA-'],
  ])('%s <-> %s', (utf8, mutf7) => {
    expect(encodeModifiedUtf7(utf8)).toBe(mutf7);
    expect(decodeModifiedUtf7(mutf7)).toBe(utf8);
  });

  it.each(['&', '&Jjo', '&U,BTFw', '&AGE-', '&2D3-', '&3gA-', 'a\u0001', 'é', '&Jj!-'])('rejects %j', (bad) => {
    expect(() => decodeModifiedUtf7(bad)).toThrow(StoreError);
  });

  it('round-trips any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        expect(decodeModifiedUtf7(encodeModifiedUtf7(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
  });

  it('decoding arbitrary ASCII never crashes with anything but StoreError', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'&-ABab+,09 /'.split('')), maxLength: 30 }), (s) => {
        try {
          const d = decodeModifiedUtf7(s);
          expect(decodeModifiedUtf7(encodeModifiedUtf7(d))).toBe(d);
        } catch (e) {
          expect(e).toBeInstanceOf(StoreError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('folder names', () => {
  it.each([
    ['inbox', 'INBOX'],
    ['Inbox/Sub', 'INBOX/Sub'],
    ['Sent/', 'Sent'],
    ['a.b', 'a.b'],
  ])('%j is %j', (n, c) => expect(normalizeFolderName(n)).toBe(c));

  const attacks = [
    '', '/', '/etc/passwd', '//x', 'a//b', '..', '.', '../x', 'a/../../b', 'a/..', './a', 'a/./b', '../../../../etc',
    'a\u0000b', 'a\nb', 'a\rb', 'a\tb', '\u007f', '\u0085', 'a/\u0000', '*', 'a%', 'a/*', ' ', 'a/ /b',
    'a'.repeat(256), Array(17).fill('a').join('/'), '\ud800', 'x\udc00y', '..\\..\\x', '.'.repeat(100),
  ];
  it.each(attacks)('rejects or contains %j', (n) => {
    expect(resolvesInside(n)).toBe(true);
  });
  it.each(attacks.filter((a) => a !== '..\\..\\x' && a !== '.'.repeat(100)))('rejects %j with BADNAME', (n) => {
    expect(() => normalizeFolderName(n)).toThrow(expect.objectContaining({ code: 'BADNAME' }));
  });

  it('names that look like paths stay one flat directory inside the user dir', () => {
    for (const n of ['..\\..\\x', '.hidden', 'a.b.c', '~root', 'cur', 'new', 'tmp', 'mailfleet', '\\2e', 'a\\5cb', '&-..']) {
      const c = normalizeFolderName(n);
      const p = folderPath(USER, c);
      expect(path.dirname(p)).toBe(USER);
      expect(folderNameFromDisk(path.basename(p))).toBe(c);
    }
  });

  it('for any string: rejected, or resolved inside the user dir and decodable back (property)', () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.constantFrom('.', '..', '~', '\\', '\\2e', '&', '&-', 'INBOX', '', ' ', '\u0000', '/'),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 64 }), fc.array(segment, { maxLength: 20 }).map((s) => s.join('/'))), (name) => {
        expect(resolvesInside(name)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('ignores foreign directory entries instead of guessing', () => {
    for (const e of ['.', '..', 'cur', '.a\\zz', '.&ZZZ', '.a..b', '.a.', '.INBOX', '.Jj']) {
      expect(folderNameFromDisk(e)).toBe(e === '.Jj' ? 'Jj' : null);
    }
  });
});

describe('addresses', () => {
  it('maps to <root>/mail/<domain>/<local> and refuses escapes', () => {
    expect(userDirOf('/r', parseAddress('Ann.Lee@Example.ORG'))).toBe(path.resolve('/r/mail/example.org/ann.lee'));
    for (const bad of ['ann', '@x.org', 'ann@', '../x@example.org', 'a/b@example.org', '.@example.org', 'a..b@example.org', 'a@../x', 'a@ex ample.org', 'a\u0000@x.org', 'a@x/y.org', '..@example.org', 'a@..']) {
      expect(() => parseAddress(bad)).toThrow(expect.objectContaining({ code: 'BADNAME' }));
    }
  });
});
