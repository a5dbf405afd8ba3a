import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, DynamoReconcileStore, type DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import { cancelCrawl, CANCELLED } from '../../functions/core/crawl/cancel-crawl.js';
import { CrawlCache } from '../../functions/core/crawl/crawl-cache.js';
import { processPage } from '../../functions/core/crawl/process-page.js';
import { reconcile } from '../../functions/core/crawl/reconcile.js';
import { submitCrawl } from '../../functions/core/crawl/submit-crawl.js';
import { DomainError } from '../../functions/core/model/errors.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import type { PageSender } from '../../functions/core/model/ports.js';
import { startEngines, type Engines } from '../support/engines.js';
import { startSite } from '../support/site.js';

/**
 * Cancelling a crawl on DynamoDB Local: the store's conditional write (running → cancelled, once), the use case behind
 * DELETE /crawls/{crawlId} (404, 409, repeats), and what the consumer and the reconciler do with a cancelled crawl's
 * URLs. Whatever path ends them, every URL ends exactly once and succeeded + failed == total once completedAt is set.
 */
let engines: Engines;
let site: Awaited<ReturnType<typeof startSite>>;
let store: DynamoCrawlStore;
let reconcileStore: DynamoReconcileStore;
const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };

beforeAll(async () => {
  [engines, site] = await Promise.all([startEngines(), startSite()]);
  store = engines.store;
  reconcileStore = new DynamoReconcileStore(createDocumentClient(engines.dynamodb), engines.resources.tableName);
});
afterAll(async () => {
  await engines?.stop();
  await site?.close();
});

/** A queue that keeps what it is sent, for the test to deliver (or lose). */
function memoryQueue(): PageSender & { messages: PageMessage[] } {
  const messages: PageMessage[] = [];
  return { messages, send: async (batch) => (messages.push(...batch), []) };
}

const pageUrls = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${site.url}/page/${from + i}`);
const hitsOf = (urls: string[]) => urls.reduce((sum, url) => sum + (site.hits.get(new URL(url).pathname) ?? 0), 0);

async function newCrawl(count: number, from: number, options: { maxDepth?: number } = {}) {
  const queue = memoryQueue();
  const urls = pageUrls(from, count);
  const { crawlId } = await submitCrawl({ urls, ...options }, { kind: 'api' }, { store, queue });
  return { crawlId, queue, urls };
}

/** Every page of the crawl, and the exact accounting a crawl with a completedAt must show. */
async function expectEndedExactly(crawlId: string) {
  const crawl = (await store.getCrawl(crawlId))!;
  expect(crawl.status).toBe('cancelled');
  expect(crawl.completedAt).toBeDefined();
  expect(crawl.succeeded + crawl.failed).toBe(crawl.total);
  const pages = (await store.listPages(crawlId, 1000)).items;
  expect(pages).toHaveLength(crawl.total);
  expect(new Set(pages.map((p) => p.url)).size).toBe(crawl.total);
  expect(pages.filter((p) => !p.ok)).toHaveLength(crawl.failed);
  return { crawl, pages };
}

const domainError = async (run: Promise<unknown>) => {
  const err = await run.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DomainError);
  return { kind: (err as DomainError).kind, code: (err as DomainError).code };
};

describe('the store: a running crawl is cancelled once', () => {
  it('turns running into cancelled with cancelledAt, and a repeat keeps the first cancelledAt', async () => {
    const { crawlId } = await newCrawl(3, 0);
    const first = await store.cancelCrawl(crawlId, '2026-01-01T00:00:00.000Z');
    expect(first).toMatchObject({ crawlId, status: 'cancelled', cancelledAt: '2026-01-01T00:00:00.000Z', total: 3 });
    const again = await store.cancelCrawl(crawlId, '2026-01-02T00:00:00.000Z');
    expect(again).toMatchObject({ status: 'cancelled', cancelledAt: '2026-01-01T00:00:00.000Z' });
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'cancelled', cancelledAt: '2026-01-01T00:00:00.000Z' });
  });

  it('leaves a completed crawl as it was, and names no crawl for an unknown id', async () => {
    const { crawlId, queue } = await newCrawl(2, 10);
    for (const m of queue.messages) await processPage(m, { store, queue, limits });
    const completed = await store.getCrawl(crawlId);
    expect(completed).toMatchObject({ status: 'completed', succeeded: 2 });
    expect(await store.cancelCrawl(crawlId, new Date().toISOString())).toEqual(completed);
    expect(await store.cancelCrawl(ulid(), new Date().toISOString())).toBeNull();
  });

  it('counts no link for a cancelled crawl', async () => {
    const { crawlId } = await newCrawl(1, 20);
    await store.cancelCrawl(crawlId, new Date().toISOString());
    const toQueue = await store.registerLinks(crawlId, pageUrls(20, 1)[0]!, pageUrls(900, 5), { depth: 1, leaseUntil: Date.now() + 60_000 });
    expect(toQueue).toEqual([]);
    expect(await store.getCrawl(crawlId)).toMatchObject({ total: 1 });
  });

  it('completes a cancelled crawl with its status kept, and takes it off the running index', async () => {
    const { crawlId, urls } = await newCrawl(2, 30);
    await store.cancelCrawl(crawlId, new Date().toISOString());
    expect((await reconcileStore.runningCrawls()).find((c) => c.crawlId === crawlId)).toMatchObject({ cancelled: true });
    expect(await store.completeIfDone(crawlId, new Date().toISOString())).toBe(false);
    await store.recordPages(crawlId, urls.map((url) => ({ summary: { ...failed(url) }, depth: 0 })));
    expect(await store.completeIfDone(crawlId, '2026-02-02T00:00:00.000Z')).toBe(true);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'cancelled', completedAt: '2026-02-02T00:00:00.000Z', failed: 2, total: 2 });
    expect(await store.completeIfDone(crawlId, new Date().toISOString())).toBe(false);
    expect((await reconcileStore.runningCrawls()).map((c) => c.crawlId)).not.toContain(crawlId);
  });
});

const failed = (url: string) => ({
  url, finalUrl: url, status: null, ok: false, contentType: null, charset: null, title: '', lang: null, description: null,
  canonical: null, h1: 0, links: 0, images: 0, bytes: 0, durationMs: 0, fetchedAt: new Date().toISOString(), contentHash: null, textHash: null,
  error: { code: CANCELLED, message: 'test' },
});

describe('cancelCrawl, the use case behind DELETE /crawls/{crawlId}, and the consumers after it', () => {
  it('cancels; the messages delivered after it end their URLs as CANCELLED without fetching, and the crawl gets its completedAt', async () => {
    const { crawlId, queue } = await newCrawl(40, 100, { maxDepth: 1 });
    const crawls = new CrawlCache(store, 0);
    // Some pages were fetched before the cancel, and the links they found were counted and queued.
    for (const m of queue.messages.slice(0, 10)) await processPage(m, { store, crawls, queue, limits });
    const view = await cancelCrawl(crawlId, { store });
    const total = view.total;
    expect(total).toBeGreaterThan(40);
    expect(view).toMatchObject({ crawlId, status: 'cancelled', succeeded: 10, failed: 0, cancelledAt: expect.any(String) });
    expect(view.completedAt).toBeUndefined();
    const rest = queue.messages.slice(10);
    expect(rest).toHaveLength(total - 10);
    const hits = hitsOf(rest.map((m) => m.url));
    for (const m of rest) expect(await processPage(m, { store, crawls, queue, limits })).toBe('recorded');
    expect(hitsOf(rest.map((m) => m.url))).toBe(hits);
    expect(queue.messages).toHaveLength(total);
    const { crawl, pages } = await expectEndedExactly(crawlId);
    expect(crawl).toMatchObject({ total, succeeded: 10, failed: total - 10, cancelledAt: view.cancelledAt });
    expect(pages.filter((p) => p.error?.code === CANCELLED)).toHaveLength(total - 10);
    // A message delivered again fetches and counts nothing.
    expect(await processPage(rest[0]!, { store, crawls, queue, limits })).toBe('duplicate');
    await expectEndedExactly(crawlId);
  });

  it('completes at once a crawl whose every URL had ended just before the cancel', async () => {
    const { crawlId, urls } = await newCrawl(3, 200);
    await store.recordPages(crawlId, urls.map((url) => ({ summary: failed(url), depth: 0 })));
    const view = await cancelCrawl(crawlId, { store });
    expect(view).toMatchObject({ status: 'cancelled', total: 3, failed: 3, completedAt: expect.any(String) });
    await expectEndedExactly(crawlId);
  });

  it('is harmless to repeat: the same crawl, the same cancelledAt', async () => {
    const { crawlId } = await newCrawl(3, 300);
    const first = await cancelCrawl(crawlId, { store });
    const second = await cancelCrawl(crawlId, { store, now: () => new Date(Date.now() + 60_000) });
    expect(second).toEqual(first);
  });

  it('refuses a crawl that had completed (conflict, CRAWL_COMPLETED) and leaves it completed', async () => {
    const { crawlId, queue } = await newCrawl(1, 310);
    await processPage(queue.messages[0]!, { store, queue, limits });
    expect(await domainError(cancelCrawl(crawlId, { store }))).toEqual({ kind: 'conflict', code: 'CRAWL_COMPLETED' });
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', succeeded: 1 });
    expect((await store.getCrawl(crawlId))!.cancelledAt).toBeUndefined();
  });

  it('answers CRAWL_NOT_FOUND for an unknown id and for one that cannot be a crawl id', async () => {
    expect(await domainError(cancelCrawl(ulid(), { store }))).toEqual({ kind: 'not-found', code: 'CRAWL_NOT_FOUND' });
    expect(await domainError(cancelCrawl('nope', { store }))).toEqual({ kind: 'not-found', code: 'CRAWL_NOT_FOUND' });
  });

  it('leaves lost URLs to the reconciler, which ends them as CANCELLED on its next pass instead of queueing them', async () => {
    const { crawlId, queue } = await newCrawl(30, 500);
    await processPage(queue.messages[0]!, { store, queue, limits });
    await cancelCrawl(crawlId, { store });
    // The other messages are lost; for a cancelled crawl a pass needs no quiet period and no empty queue.
    const requeued = memoryQueue();
    const report = await reconcile({ reconcileStore, store, queue: requeued, backlog: async () => 5 }, { afterSeconds: 600, maxRequeues: 2 });
    // (Crawls the store's tests left cancelled are ended by the same pass.)
    expect(report.requeued).toBe(0);
    expect(report.cancelled).toBeGreaterThanOrEqual(29);
    expect(report.completed).toBeGreaterThanOrEqual(1);
    expect(requeued.messages).toEqual([]);
    const { crawl, pages } = await expectEndedExactly(crawlId);
    expect(crawl).toMatchObject({ total: 30, succeeded: 1, failed: 29 });
    expect(pages.filter((p) => p.error?.code === CANCELLED)).toHaveLength(29);
  });
});
