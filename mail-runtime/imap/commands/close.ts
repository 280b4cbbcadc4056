import { noArgs } from './args';
import { SELECTED, defineCommand, okResult } from './types';

/**
 * RFC 3501 §6.4.2 CLOSE: expunge \Deleted messages silently (no EXPUNGE
 * responses) unless read-only, then leave the mailbox.
 */
export const CLOSE = defineCommand({
  name: 'CLOSE',
  states: SELECTED,
  parse: noArgs,
  async handle(ctx) {
    const view = ctx.selected;
    // RFC 4314 §4: without `e` CLOSE leaves the mailbox without expunging.
    if (view && !view.readOnly && view.rights.includes('e')) {
      const deleted = view.folder.messages().filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid);
      if (deleted.length) await view.folder.expunge();
    }
    await ctx.unselect();
    return okResult('CLOSE completed');
  },
});

/** RFC 3691 UNSELECT: leave the mailbox without expunging. */
export const UNSELECT = defineCommand({
  name: 'UNSELECT',
  states: SELECTED,
  parse: noArgs,
  async handle(ctx) {
    await ctx.unselect();
    return okResult('UNSELECT completed');
  },
});
