import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { crawlIdForEvent, startScheduledRun } from '../../functions/core/crawl/submit-crawl.js';
import { failedSummary } from '../../functions/core/model/summary.js';
import { startEngines, type Engines } from '../support/engines.js';
import { purgeQueues } from '../support/polite-consumers.js';

// A schedule that monitors: each time it fires it records a run, and it never starts a run while its previous one is
// still running; every field of a crawl request (a name, a webhook…) rides along.

let engines: Engines;

beforeAll(async () => {
  engines = await startEngines();
});
afterAll(async () => {
  await purgeQueues(engines);
  await engines?.stop();
});

describe('scheduled runs on the real engines', () => {
  it('records a skipped run while the previous run is running, starts the next once it has completed, and lists them all', async () => {
    const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    const deps = { store: engines.store, queue };
    const request = { urls: ['https://monitored.example/'], name: 'nightly check', webhook: { url: 'https://hooks.example/in', events: ['page.changed' as const] } };
    const fired = (n: number) => crawlIdForEvent(`nightly/event-${n}`, new Date(Date.UTC(2026, 10, 30, 3, n)));

    const first = await startScheduledRun(request, 'nightly', deps, { crawlId: fired(1) });
    expect(first).toMatchObject({ crawlId: fired(1), accepted: 1 });
    expect(await engines.store.getCrawl(fired(1))).toMatchObject({
      status: 'running', name: 'nightly check', source: { kind: 'schedule', name: 'nightly' }, webhook: { url: 'https://hooks.example/in', events: ['page.changed'] },
    });

    // Fired again while the first run is running: recorded, with no URLs, completed at once, saying why.
    const second = await startScheduledRun(request, 'nightly', deps, { crawlId: fired(2) });
    expect(second).toMatchObject({ crawlId: fired(2), accepted: 0, skipped: true });
    expect(await engines.store.getCrawl(fired(2))).toMatchObject({ status: 'completed', total: 0, skipped: { previousCrawlId: fired(1) } });
    // A retry of the same event finds its own run, and does nothing more.
    expect(await startScheduledRun(request, 'nightly', deps, { crawlId: fired(2) })).toMatchObject({ crawlId: fired(2), duplicate: true });
    // Fired a third time, the first run still going: skipped for it again (the newest run, the skipped one, has ended).
    expect(await startScheduledRun(request, 'nightly', deps, { crawlId: fired(3) })).toMatchObject({ skipped: true });
    expect(await engines.store.getCrawl(fired(3))).toMatchObject({ status: 'completed', skipped: { previousCrawlId: fired(1) } });

    // The first run completes; the next firing starts a run.
    await engines.store.recordPage(fired(1), failedSummary({ url: 'https://monitored.example/', fetchedAt: new Date().toISOString(), error: { code: 'DNS', message: 'x' } }), 0);
    expect(await engines.store.completeIfDone(fired(1), new Date().toISOString())).toBe(true);
    const fourth = await startScheduledRun(request, 'nightly', deps, { crawlId: fired(4) });
    expect(fourth).toMatchObject({ crawlId: fired(4), accepted: 1 });
    expect(fourth.skipped).toBeUndefined();

    const listed = await engines.store.listCrawls({ limit: 10, schedule: 'nightly' });
    expect(listed.items.map((c) => c.crawlId)).toEqual([fired(4), fired(3), fired(2), fired(1)]);
  });
});
