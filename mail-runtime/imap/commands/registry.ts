import { DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS, SETACL } from './acl';
import { APPEND } from './append';
import { AUTHENTICATE } from './authenticate';
import { CANCELUPDATE } from './cancelupdate';
import { CAPABILITY } from './capability';
import { CLOSE, UNSELECT } from './close';
import { COMPARATOR } from './comparator';
import { COPY, MOVE, UID_COPY, UID_MOVE } from './copy';
import { ENABLE } from './enable';
import { EXPUNGE, UID_EXPUNGE } from './expunge';
import { FETCH, UID_FETCH } from './fetch';
import { ID } from './id';
import { IDLE } from './idle';
import { LIST, LSUB } from './list';
import { LOGIN } from './login';
import { LOGOUT } from './logout';
import { CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE } from './mailboxes';
import { NAMESPACE } from './namespace';
import { CHECK, NOOP } from './noop';
import { GETQUOTA, GETQUOTAROOT, SETQUOTA } from './quota';
import { SEARCH, UID_SEARCH } from './search';
import { EXAMINE, SELECT } from './select';
import { SORT, UID_SORT } from './sort';
import { STARTTLS } from './starttls';
import { STATUS } from './status';
import { STORE, UID_STORE } from './store';
import { THREAD, UID_THREAD } from './thread';
import type { CommandSpec } from './types';

/**
 * Every command the server knows, by the name the client sends (`UID FETCH`
 * is its own entry). Explicit on purpose: no handler lookup by building
 * names from strings (CONVENTIONS.md).
 */
const ALL = [
  // RFC 3501 §6.1 any state
  CAPABILITY,
  NOOP,
  LOGOUT,
  // §6.2 not authenticated
  STARTTLS,
  AUTHENTICATE,
  LOGIN,
  // §6.3 authenticated
  SELECT,
  EXAMINE,
  CREATE,
  DELETE,
  RENAME,
  SUBSCRIBE,
  UNSUBSCRIBE,
  LIST,
  LSUB,
  STATUS,
  APPEND,
  // §6.4 selected
  CHECK,
  CLOSE,
  EXPUNGE,
  SEARCH,
  FETCH,
  STORE,
  COPY,
  UID_COPY,
  UID_FETCH,
  UID_SEARCH,
  UID_STORE,
  // extensions
  UID_EXPUNGE, // RFC 4315
  MOVE, // RFC 6851
  UID_MOVE,
  IDLE, // RFC 2177
  NAMESPACE, // RFC 2342
  ID, // RFC 2971
  ENABLE, // RFC 5161
  UNSELECT, // RFC 3691
  GETQUOTA, // RFC 9208
  GETQUOTAROOT,
  SETQUOTA,
  SORT, // RFC 5256, RFC 5267 ESORT
  UID_SORT,
  THREAD, // RFC 5256
  UID_THREAD,
  CANCELUPDATE, // RFC 5267 §4.5
  COMPARATOR, // RFC 5255 §4.7
  SETACL, // RFC 4314 §3
  DELETEACL,
  GETACL,
  LISTRIGHTS,
  MYRIGHTS,
] as const;

export const REGISTRY: ReadonlyMap<string, CommandSpec<unknown>> = new Map(
  (ALL as readonly CommandSpec<unknown>[]).map((spec) => [spec.name, spec]),
);
