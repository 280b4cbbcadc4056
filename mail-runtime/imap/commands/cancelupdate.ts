import { fail, ok } from './args';
import { cancelUpdate, isKept } from './context-update';
import { SELECTED, badResult, defineCommand, okResult } from './types';

/** Tags one CANCELUPDATE may name: as many as a session can keep, with room for stale ones. */
const MAX_TAGS = 100;

/**
 * RFC 5267 §4.5 CANCELUPDATE "tag" *(SP "tag") (§6: each a quoted string):
 * stop keeping those searches up to date. A tag that names no kept search
 * is a client error (BAD), and then none is cancelled.
 */
export const CANCELUPDATE = defineCommand({
  name: 'CANCELUPDATE',
  states: SELECTED,
  parse(args) {
    if (args.length === 0) return fail('CANCELUPDATE needs the tag of a search');
    if (args.length > MAX_TAGS) return fail(`CANCELUPDATE takes at most ${MAX_TAGS} tags`);
    const tags: string[] = [];
    for (const a of args) {
      const tag = a.type === 'string' ? a.bytes.toString('utf8') : undefined;
      if (tag === undefined) return fail('CANCELUPDATE tags are quoted strings');
      tags.push(tag);
    }
    return ok(tags);
  },
  async handle(ctx, tags) {
    const view = ctx.selected!;
    const unknown = tags.find((t) => !isKept(view, t));
    if (unknown !== undefined) return badResult(`CANCELUPDATE: no search kept up to date has tag ${JSON.stringify(unknown.slice(0, 40))}`);
    for (const t of tags) cancelUpdate(view, t);
    return okResult('CANCELUPDATE completed');
  },
});
