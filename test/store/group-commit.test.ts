import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { msg, tempRoot } from './helpers';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

describe('group commit', () => {
  it('concurrent appends share index and directory fsyncs, and all are durable', async () => {
    const store = new MailStore({ root });
    const user = await store.openUser('eve@example.org', { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    const before = { ...store.stats };
    const N = 60;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => inbox.append(msg(i))));
    const after = store.stats;
    expect(new Set(results.map((r) => r.uid)).size).toBe(N);
    expect(after.fileFsyncs - before.fileFsyncs).toBe(N); // one per message file: unavoidable
    expect(after.indexFsyncs - before.indexFsyncs).toBeLessThan(N);
    expect(after.dirFsyncs - before.dirFsyncs).toBeLessThan(N);
    expect(after.commits - before.commits).toBeLessThan(N);
    expect(after.operations - before.operations).toBe(N);
    // mixed operations batch too
    const b2 = { ...store.stats };
    await Promise.all([
      ...results.slice(0, 20).map((r) => inbox.store([r.uid], 'add', ['\\Seen'])),
      ...Array.from({ length: 20 }, (_, i) => inbox.append(msg(100 + i))),
    ]);
    expect(store.stats.indexFsyncs - b2.indexFsyncs).toBeLessThan(40);
    await store.close();

    const again = new MailStore({ root });
    const inbox2 = await (await again.openUser('eve@example.org', { epoch: 1 })).openFolder('INBOX');
    expect(inbox2.messages()).toHaveLength(N + 20);
    for (const r of results) expect((await inbox2.read(r.uid)).toString()).toContain(`Subject: test ${results.indexOf(r)}`);
    expect(inbox2.messages().filter((m) => m.flags.includes('\\Seen'))).toHaveLength(20);
    await again.close();
  });
});
