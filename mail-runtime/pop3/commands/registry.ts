import { AUTH } from './auth';
import { CAPA } from './capa';
import { DELE, RSET } from './dele';
import { LIST, UIDL } from './list';
import { NOOP } from './noop';
import { QUIT } from './quit';
import { RETR, TOP } from './retr';
import { STAT } from './stat';
import { STLS } from './stls';
import type { CommandSpec } from './types';
import { PASS, USER } from './user';

/**
 * Every command the server knows, by keyword. Explicit on purpose: no
 * handler lookup by building names from strings (CONVENTIONS.md). APOP
 * (RFC 1939 §7) is not offered: it needs plaintext-equivalent passwords.
 */
const ALL = [
  // RFC 1939 §4 AUTHORIZATION (USER, PASS), RFC 5034 AUTH, RFC 2595 §4 STLS
  USER,
  PASS,
  AUTH,
  STLS,
  // RFC 1939 §5 TRANSACTION, §7 optional TOP and UIDL
  STAT,
  LIST,
  RETR,
  DELE,
  NOOP,
  RSET,
  TOP,
  UIDL,
  // both states: RFC 1939 §4/§6 QUIT, RFC 2449 §5 CAPA
  QUIT,
  CAPA,
] as const;

export const REGISTRY: ReadonlyMap<string, CommandSpec<unknown>> = new Map(
  (ALL as readonly CommandSpec<unknown>[]).map((spec) => [spec.name, spec]),
);
