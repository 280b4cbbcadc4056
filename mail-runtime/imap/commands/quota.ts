import { atom, data, list, num, str, type ResponseValue } from '../protocol';
import type { QuotaInfo } from '../../store';
import { fail, folderArg, ok } from './args';
import { storeErrorResult } from './errors';
import { AUTH_OR_SELECTED, defineCommand, noResult, okResult, type SessionContext } from './types';

/** The one quota root of a user: RFC 9208 allows "" as a root name. */
const ROOT = '';

/** RFC 9208 §5.1: STORAGE in units of 1024 octets, MESSAGE in messages; only limited resources are listed. */
function quotaResponse(q: QuotaInfo): ResponseValue[] {
  const items: ResponseValue[] = [];
  if (q.storageLimit !== undefined) {
    items.push(atom('STORAGE'), num(Math.ceil(q.storageUsed / 1024)), num(Math.floor(q.storageLimit / 1024)));
  }
  if (q.messagesLimit !== undefined) items.push(atom('MESSAGE'), num(q.messagesUsed), num(q.messagesLimit));
  return [atom('QUOTA'), str(ROOT), list(items)];
}

async function sendQuota(ctx: SessionContext): Promise<void> {
  const q = await ctx.mailbox!.getQuota();
  ctx.send(data(...quotaResponse(q)));
}

/** RFC 9208 §4.2 GETQUOTA root. */
export const GETQUOTA = defineCommand({
  name: 'GETQUOTA',
  states: AUTH_OR_SELECTED,
  parse(args) {
    if (args.length !== 1) return fail<string>('GETQUOTA needs a quota root');
    const root = folderArg(args[0]);
    return root.ok ? ok(root.value.imap) : root;
  },
  async handle(ctx, root) {
    if (root !== ROOT) return noResult('No such quota root', { name: 'NONEXISTENT' });
    await sendQuota(ctx);
    return okResult('GETQUOTA completed');
  },
});

/** RFC 9208 §4.3 GETQUOTAROOT mailbox: every folder shares the user's root. */
export const GETQUOTAROOT = defineCommand({
  name: 'GETQUOTAROOT',
  states: AUTH_OR_SELECTED,
  parse(args, _cmd, opts) {
    if (args.length !== 1) return fail<import('./args').FolderName>('GETQUOTAROOT needs a mailbox name');
    return folderArg(args[0], opts);
  },
  async handle(ctx, folder) {
    try {
      const f = await ctx.mailbox!.openFolder(folder.store);
      await f.close();
    } catch (err) {
      const mapped = storeErrorResult(err);
      if (mapped) return mapped;
      throw err;
    }
    ctx.send(data(atom('QUOTAROOT'), str(folder.imap), str(ROOT)));
    await sendQuota(ctx);
    return okResult('GETQUOTAROOT completed');
  },
});

/** RFC 9208 §4.1 SETQUOTA: limits come from the directory, not from users. */
export const SETQUOTA = defineCommand({
  name: 'SETQUOTA',
  states: AUTH_OR_SELECTED,
  parse(args) {
    return args.length === 2 ? ok(undefined) : fail('SETQUOTA needs a root and a resource list');
  },
  async handle() {
    return noResult('Quota is set by the administrator', { name: 'NOPERM' });
  },
});
