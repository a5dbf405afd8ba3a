import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import { processPage } from '../../functions/core/crawl/process-page.js';
import { startEngines, type Engines } from '../support/engines.js';
import { startSite } from '../support/site.js';

let engines: Engines;
let site: Awaited<ReturnType<typeof startSite>>;
let store: DynamoCrawlStore;
const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };

beforeAll(async () => {
  [engines, site] = await Promise.all([startEngines(), startSite()]);
  store = engines.store;
});
afterAll(async () => {
  await engines?.stop();
  await site?.close();
});

/** The crawl's messages waiting on the queue (received: hidden for the visibility timeout), others' left out. */
async function queued(crawlId: string): Promise<PageMessage[]> {
  const out = await engines.sqs.send(new ReceiveMessageCommand({ QueueUrl: engines.resources.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as PageMessage).filter((m) => m.crawlId === crawlId);
}

/** A running crawl of the site's /graph/0 to depth 1 (its two children), recorded as submit records one. */
async function graphCrawl(): Promise<{ crawlId: string; root: string }> {
  const crawlId = ulid();
  const root = `${site.url}/graph/0`;
  await store.createCrawl(
    { crawlId, status: 'running', total: 1, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options: { maxDepth: 1, sameOrigin: true }, source: { kind: 'api' } },
    [root],
  );
  return { crawlId, root };
}

describe('processPage on the real engines', () => {
  it('recovers from a consumer that died between queueing its links and recording its page', async () => {
    const { crawlId, root } = await graphCrawl();
    const message: PageMessage = { crawlId, url: root, depth: 0, maxDepth: 1, sameOrigin: true };

    // First delivery: the links are registered, but queueing them fails (a queue that does not exist), so the
    // message fails and the page is not recorded.
    const broken = new SqsPageQueue({ queueUrl: `${engines.resources.queueUrl}-missing`, client: engines.sqs, retries: 1 });
    await expect(processPage(message, { store, queue: broken, limits })).rejects.toThrow(/could not be queued/);
    expect(await store.getCrawl(crawlId)).toMatchObject({ total: 3, succeeded: 0, status: 'running' });

    // Redelivery: the same children come back to this parent and are queued; the page is recorded once.
    const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    expect(await processPage(message, { store, queue, limits })).toBe('recorded');
    const children = await queued(crawlId);
    expect(children.map((m) => m.url).sort()).toEqual([`${site.url}/graph/1`, `${site.url}/graph/2`]);
    expect(children.every((m) => m.depth === 1 && m.crawlId === crawlId)).toBe(true);

    // A third delivery of the same message does nothing: no fetch, no count, nothing queued.
    const hits = site.hits.get('/graph/0');
    expect(await processPage(message, { store, queue, limits })).toBe('duplicate');
    expect(site.hits.get('/graph/0')).toBe(hits);
    expect(await queued(crawlId)).toEqual([]);

    // The children at maxDepth are fetched but their links are not followed; then the crawl completes, exactly.
    for (const child of children) expect(await processPage(child, { store, queue, limits })).toBe('recorded');
    expect(await queued(crawlId)).toEqual([]);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', total: 3, succeeded: 3, failed: 0 });
    await engines.sqs.send(new PurgeQueueCommand({ QueueUrl: engines.resources.queueUrl })).catch(() => undefined);
  });

  it("queues a page's links as new URLs: none of the attempts, reserved slot or wait of the page that found them", async () => {
    const { crawlId, root } = await graphCrawl();
    // The page came back from waiting for its host's turn, on its second attempt.
    const message: PageMessage = { crawlId, url: root, depth: 0, maxDepth: 1, sameOrigin: true, attempts: 1, reservation: Date.now() - 500, waitingSince: Date.now() - 60_000 };
    const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    expect(await processPage(message, { store, queue, limits })).toBe('recorded');
    const children = await queued(crawlId);
    expect(children.map((m) => m.url).sort()).toEqual([`${site.url}/graph/1`, `${site.url}/graph/2`]);
    for (const child of children) expect(child).toEqual({ crawlId, url: child.url, depth: 1, maxDepth: 1, sameOrigin: true });
    await engines.sqs.send(new PurgeQueueCommand({ QueueUrl: engines.resources.queueUrl })).catch(() => undefined);
  });
});
