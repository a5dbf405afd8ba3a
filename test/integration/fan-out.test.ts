import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { DomainError } from '../../functions/core/model/errors.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import type { PageSender } from '../../functions/core/model/ports.js';
import { submitCrawl } from '../../functions/core/crawl/submit-crawl.js';
import { enqueueFailed } from '../../functions/core/model/summary.js';
import { startEngines, type Engines } from '../support/engines.js';

/**
 * Fan-out when the queue keeps failing some sends (after the adapter's own retries, which sqs-queue.test.ts covers):
 * the crawl must still be consistent, and end, before the caller hears about it. The store is DynamoDB Local; the
 * queue is a PageSender that refuses the URLs it is told to, since a real SQS cannot be made to fail on cue.
 */
let engines: Engines;
let store: DynamoCrawlStore;
beforeAll(async () => {
  engines = await startEngines();
  store = engines.store;
});
afterAll(() => engines?.stop());

function refusingQueue(refuse: (m: PageMessage) => boolean): PageSender & { sent: PageMessage[] } {
  const sent: PageMessage[] = [];
  return {
    sent,
    send: async (messages) => {
      sent.push(...messages.filter((m) => !refuse(m)));
      return messages.filter(refuse);
    },
  };
}

const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://site.example/${i}`);

describe('fan-out when sends fail', () => {
  it('records the URLs it could not queue as failed, so the crawl still completes', async () => {
    const queue = refusingQueue((m) => Number(m.url.split('/').pop()) % 3 === 0);
    const result = await submitCrawl({ urls: urls(250) }, { kind: 'api' }, { store, queue });
    expect(result).toMatchObject({ accepted: 250, unqueued: 84 });
    expect(queue.sent).toHaveLength(166);
    expect(await store.getCrawl(result.crawlId)).toMatchObject({ status: 'running', total: 250, succeeded: 0, failed: 84 });
    const failed = (await store.listPages(result.crawlId, 1000)).items;
    expect(failed).toHaveLength(84);
    expect(new Set(failed.map((s) => s.error?.code))).toEqual(new Set(['ENQUEUE_FAILED']));
  });

  it('fails as unavailable (503 QUEUE_UNAVAILABLE) when nothing could be queued, with the crawl already completed as failed', async () => {
    const err = await submitCrawl({ urls: urls(120) }, { kind: 'api' }, { store, queue: refusingQueue(() => true) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'unavailable', code: 'QUEUE_UNAVAILABLE' });
    const crawlId = (err as DomainError).details!['crawlId'] as string;
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', total: 120, succeeded: 0, failed: 120 });
  });

  it("records the crawl's options with the deployment's defaults filled in, and refuses maxPages over its bound", async () => {
    const policy = { maxPagesPerCrawl: 50, hostDelayMs: 250 };
    const queue = refusingQueue(() => false);
    const plain = await submitCrawl({ urls: urls(2) }, { kind: 'api' }, { store, queue, policy });
    expect((await store.getCrawl(plain.crawlId))?.options).toEqual({ maxDepth: 0, sameOrigin: true, maxPages: 50, robotsTxt: 'obey', sitemap: 'skip', hostDelayMs: 250 });
    expect(queue.sent.map((m) => m.maxPages)).toEqual([50, 50]);
    const request = { urls: urls(1), maxPages: 7, include: ['https://site.example/**'], exclude: ['**?*'], robotsTxt: 'ignore', sitemap: 'include', hostDelayMs: 0 };
    const given = await submitCrawl(request, { kind: 'api' }, { store, queue, policy });
    expect((await store.getCrawl(given.crawlId))?.options).toEqual({ maxDepth: 0, sameOrigin: true, ...request, urls: undefined });
    await expect(submitCrawl({ urls: urls(1), maxPages: 51 }, { kind: 'api' }, { store, queue, policy })).rejects.toMatchObject({
      kind: 'invalid',
      code: 'INVALID_REQUEST',
      message: expect.stringMatching(/maxPages: at most 50/),
    });
  });

  it('counts a URL once even if its failure is recorded twice (a retried fan-out)', async () => {
    const result = await submitCrawl({ urls: urls(5) }, { kind: 'api' }, { store, queue: refusingQueue(() => false) });
    const at = new Date().toISOString();
    await store.recordFailures(result.crawlId, urls(5).slice(0, 2).map((url) => enqueueFailed(url, at)), 0);
    await store.recordFailures(result.crawlId, urls(5).slice(0, 3).map((url) => enqueueFailed(url, at)), 0);
    expect(await store.getCrawl(result.crawlId)).toMatchObject({ total: 5, failed: 3, status: 'running' });
  });
});
