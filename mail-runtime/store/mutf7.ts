import { StoreError } from './types';

/**
 * Modified UTF-7 mailbox names, RFC 3501 §5.1.3.
 *
 * - Printable US-ASCII (0x20-0x7E) except "&" stands for itself.
 * - "&" is written "&-".
 * - Any other run of characters is UTF-16BE, base64 (RFC 2045) with ","
 *   instead of "/", no padding, between "&" and "-".
 *
 * The decoder is strict: it refuses what a conforming encoder never
 * produces (printable ASCII inside a shift, unterminated shift, non-zero
 * pad bits, broken surrogates), so that one name has one spelling.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_INDEX = new Map<string, number>([...B64].map((c, i) => [c, i]));

function isDirect(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

export function encodeModifiedUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const code = name.charCodeAt(i);
    if (code === 0x26) {
      out += '&-';
      i++;
      continue;
    }
    if (isDirect(code)) {
      out += name[i];
      i++;
      continue;
    }
    // Collect a run of non-direct UTF-16 code units.
    const units: number[] = [];
    while (i < name.length && !isDirect(name.charCodeAt(i))) {
      units.push(name.charCodeAt(i));
      i++;
    }
    out += '&' + base64Units(units) + '-';
  }
  return out;
}

function base64Units(units: number[]): string {
  let bits = 0;
  let nbits = 0;
  let s = '';
  for (const u of units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      s += B64[(bits >> nbits) & 0x3f];
    }
    bits &= (1 << nbits) - 1;
  }
  if (nbits > 0) s += B64[(bits << (6 - nbits)) & 0x3f];
  return s;
}

function bad(input: string, why: string): StoreError {
  return new StoreError('BADNAME', `invalid modified UTF-7 name ${JSON.stringify(input)}: ${why}`);
}

export function decodeModifiedUtf7(input: string): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const code = input.charCodeAt(i);
    if (!isDirect(code)) throw bad(input, 'character outside printable US-ASCII');
    if (code !== 0x26) {
      out += input[i];
      i++;
      continue;
    }
    const end = input.indexOf('-', i + 1);
    if (end < 0) throw bad(input, 'unterminated "&" shift');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    out += decodeShift(input, input.slice(i + 1, end));
    i = end + 1;
  }
  return out;
}

function decodeShift(input: string, b64: string): string {
  let bits = 0;
  let nbits = 0;
  const units: number[] = [];
  for (const c of b64) {
    const v = B64_INDEX.get(c);
    if (v === undefined) throw bad(input, `invalid base64 character ${JSON.stringify(c)}`);
    bits = ((bits << 6) | v) & 0xffffff;
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      units.push((bits >> nbits) & 0xffff);
    }
  }
  // What is left must be padding: fewer than 6 bits... of zeros (RFC 2152).
  if (nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0) throw bad(input, 'bad base64 padding');
  if (units.length === 0) throw bad(input, 'empty shift');
  let s = '';
  for (let k = 0; k < units.length; k++) {
    const u = units[k];
    if (u >= 0xd800 && u <= 0xdbff) {
      const lo = units[k + 1];
      if (lo === undefined || lo < 0xdc00 || lo > 0xdfff) throw bad(input, 'unpaired high surrogate');
      s += String.fromCharCode(u, lo);
      k++;
      continue;
    }
    if (u >= 0xdc00 && u <= 0xdfff) throw bad(input, 'unpaired low surrogate');
    if (isDirect(u)) throw bad(input, 'printable US-ASCII must not be base64-encoded');
    s += String.fromCharCode(u);
  }
  return s;
}
