import { describe, expect, it, vi } from 'vitest';
import { CompletionChecks } from '../../functions/core/crawl/completion-checks.js';

/** A store whose checks end when the test says, each reading `pending` as it is when the check begins. */
function controlledStore() {
  const checks: { crawlId: string; sawPending: number; end: (completed: boolean | Error) => void }[] = [];
  const state = { pending: 3 };
  const store = {
    completeIfDone: (crawlId: string) =>
      new Promise<boolean>((resolve, reject) => {
        checks.push({ crawlId, sawPending: state.pending, end: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      }),
  };
  return { store, checks, state };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('CompletionChecks', () => {
  it('shares one check among the calls made before it begins (the pages of one transaction), begun after them', async () => {
    const { store, checks, state } = controlledStore();
    const completion = new CompletionChecks(store);
    const first = completion.completeIfDone('A', 't1');
    // The other pages of the transaction that recorded the last three URLs call in the same turn of the event loop.
    state.pending = 0;
    const joined = [completion.completeIfDone('A', 't2'), completion.completeIfDone('A', 't3')];
    await tick();
    expect(checks.map((c) => c.sawPending)).toEqual([0]);
    checks[0]!.end(true);
    expect(await Promise.all([first, ...joined])).toEqual([true, true, true]);
  });

  it('runs one more check for every call made while one runs, begun after it ends, so each caller’s write is seen', async () => {
    const { store, checks, state } = controlledStore();
    const completion = new CompletionChecks(store);
    const first = completion.completeIfDone('A', 't1');
    await tick();
    // Three pages record (pending 3 → 0) while the first check, which read pending 3, is still out.
    state.pending = 0;
    const joined = [completion.completeIfDone('A', 't2'), completion.completeIfDone('A', 't3'), completion.completeIfDone('A', 't4')];
    await tick();
    expect(checks.map((c) => c.sawPending)).toEqual([3]);
    checks[0]!.end(false);
    expect(await first).toBe(false);
    await vi.waitFor(() => expect(checks).toHaveLength(2));
    // One check for the three waiting calls, begun after the first ended: it sees their writes.
    expect(checks.map((c) => c.sawPending)).toEqual([3, 0]);
    checks[1]!.end(true);
    expect(await Promise.all(joined)).toEqual([true, true, true]);
  });

  it('keeps crawls apart, and starts afresh once no check is running', async () => {
    const { store, checks } = controlledStore();
    const completion = new CompletionChecks(store);
    const a = completion.completeIfDone('A', 't');
    const b = completion.completeIfDone('B', 't');
    await tick();
    expect(checks.map((c) => c.crawlId)).toEqual(['A', 'B']);
    checks[0]!.end(false);
    checks[1]!.end(false);
    await Promise.all([a, b]);
    await tick();
    const again = completion.completeIfDone('A', 't');
    await tick();
    expect(checks.map((c) => c.crawlId)).toEqual(['A', 'B', 'A']);
    checks[2]!.end(true);
    expect(await again).toBe(true);
  });

  it('hands a failed check’s error to its callers, and still runs the next for the calls waiting', async () => {
    const { store, checks } = controlledStore();
    const completion = new CompletionChecks(store);
    const first = completion.completeIfDone('A', 't');
    await tick();
    const waiting = completion.completeIfDone('A', 't');
    checks[0]!.end(new Error('throttled'));
    await expect(first).rejects.toThrow('throttled');
    await vi.waitFor(() => expect(checks).toHaveLength(2));
    expect(checks).toHaveLength(2);
    checks[1]!.end(true);
    expect(await waiting).toBe(true);
  });
});
