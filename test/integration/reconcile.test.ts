import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, DynamoReconcileStore, type DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import type { PageSender, ReconcileStore } from '../../functions/core/model/ports.js';
import { processPage } from '../../functions/core/crawl/process-page.js';
import { reconcile, UNPROCESSED, type ReconcileSettings } from '../../functions/core/crawl/reconcile.js';
import { RetryLater } from '../../functions/core/crawl/retry-policy.js';
import { enqueueFailed } from '../../functions/core/model/summary.js';
import { crawlIdForEvent, submitCrawl } from '../../functions/core/crawl/submit-crawl.js';
import { startEngines, type Engines } from '../support/engines.js';
import { startSite } from '../support/site.js';

/**
 * The table is the truth: whatever loses a message leaves a counted URL with no page record, and the reconciler
 * queues it again (and ends it as failed after too many rounds). Each test loses messages a different way on the real
 * engines, drains the queue with the consumer's use case, and checks that the crawl completes with exact counts.
 */
let engines: Engines;
let site: Awaited<ReturnType<typeof startSite>>;
let store: DynamoCrawlStore;
let queue: SqsPageQueue;
let reconcileStore: DynamoReconcileStore;
const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
const retry = { maxAttempts: 3, baseDelaySeconds: 0, maxDelaySeconds: 0 };
const settings: ReconcileSettings = { afterSeconds: 600, maxRequeues: 2 };
/** A clock that jumps past every crawl's quiet period with each pass, so each pass checks them all. */
let passes = 0;
const later = () => new Date(Date.now() + passes * (settings.afterSeconds + 60) * 1000);

beforeAll(async () => {
  [engines, site] = await Promise.all([startEngines(), startSite()]);
  store = engines.store;
  queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
  reconcileStore = new DynamoReconcileStore(createDocumentClient(engines.dynamodb), engines.resources.tableName);
});
afterAll(async () => {
  await engines?.stop();
  await site?.close();
});

async function receive(max = 10): Promise<Message[]> {
  const out = await engines.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: engines.resources.queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 0, VisibilityTimeout: 30, AttributeNames: ['All'] }),
  );
  return out.Messages ?? [];
}

const remove = (m: Message) => engines.sqs.send(new DeleteMessageCommand({ QueueUrl: engines.resources.queueUrl, ReceiptHandle: m.ReceiptHandle! }));

/** Another client takes `count` messages off the queue and deletes them unprocessed. */
async function loseMessages(count: number): Promise<number> {
  let lost = 0;
  for (let tries = 0; lost < count && tries < 50; tries++) {
    for (const m of await receive(Math.min(10, count - lost))) {
      await remove(m);
      lost++;
    }
  }
  return lost;
}

/**
 * The consumer's use case over every message until the queue is empty; `queueFor` lets a delivery see a queue that
 * fails. A RetryLater puts the message back at once (its delay elapsed).
 */
async function drain(queueFor: (m: PageMessage, attempt: number) => PageSender = () => queue): Promise<void> {
  for (let idle = 0; idle < 3; ) {
    const messages = await receive();
    if (messages.length === 0) {
      idle++;
      continue;
    }
    idle = 0;
    await Promise.all(
      messages.map(async (m) => {
        const message = JSON.parse(m.Body!) as PageMessage;
        const attempt = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
        try {
          await processPage(message, { store, queue: queueFor(message, attempt), limits, retry, leaseUntil: Date.now() }, attempt);
        } catch (err) {
          if (!(err instanceof RetryLater)) throw err;
          await engines.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: engines.resources.queueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
          return;
        }
        await remove(m);
      }),
    );
  }
}

const pass = () => {
  passes++;
  return reconcile({ reconcileStore, store, queue, backlog: () => queue.backlog(), now: later }, settings);
};

async function expectExact(crawlId: string, total: number, failed: number): Promise<void> {
  const crawl = await store.getCrawl(crawlId);
  expect(crawl).toMatchObject({ status: 'completed', total, succeeded: total - failed, failed });
  const pages = (await store.listPages(crawlId, 1000)).items;
  expect(pages).toHaveLength(total);
  expect(new Set(pages.map((p) => p.url)).size).toBe(total);
}

const pageUrls = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${site.url}/page/${from + i}`);

describe('the reconciler: every counted URL ends, whatever lost its message', () => {
  it('leaves a crawl that is making progress alone', async () => {
    const { crawlId } = await submitCrawl({ urls: pageUrls(0, 3) }, { kind: 'api' }, { store, queue });
    const report = await reconcile({ reconcileStore, store, queue, backlog: () => queue.backlog() }, settings);
    expect(report.running).toBeGreaterThanOrEqual(1);
    expect(report.stalled).toBe(0);
    await drain();
    await expectExact(crawlId, 3, 0);
  });

  it('finishes a crawl whose submit died after recording it, before queueing anything', async () => {
    const dead: PageSender = { send: () => Promise.reject(new Error('the submit function timed out')) };
    await expect(submitCrawl({ urls: pageUrls(100, 25) }, { kind: 'api' }, { store, queue: dead })).rejects.toThrow('timed out');
    const [running] = (await reconcileStore.runningCrawls()).filter((c) => c.pending === 25);
    expect(running).toBeDefined();
    const report = await pass();
    expect(report.requeued).toBe(25);
    await drain();
    await expectExact(running!.crawlId, 25, 0);
    for (const url of pageUrls(100, 25)) expect(site.hits.get(new URL(url).pathname)).toBe(1);
  });

  it('requeues the messages another client took off the queue halfway, and each URL is listed once', async () => {
    const { crawlId } = await submitCrawl({ urls: pageUrls(200, 60) }, { kind: 'api' }, { store, queue });
    expect(await loseMessages(20)).toBe(20);
    await drain();
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 60, succeeded: 40 });
    const report = await pass();
    expect(report).toMatchObject({ requeued: 20, failed: 0 });
    await drain();
    await expectExact(crawlId, 60, 0);
  });

  it("queues the children a page's first delivery counted when its retry finds other links", async () => {
    const { crawlId } = await submitCrawl({ urls: [`${site.url}/shifting/1`], maxDepth: 1 }, { kind: 'api' }, { store, queue });
    // The first delivery counts its three children, then cannot queue them; the retry fetches three other links.
    const failing: PageSender = { send: async (messages) => [...messages] };
    await drain((m, attempt) => (m.depth === 0 && attempt === 1 ? failing : queue));
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 7, succeeded: 4 });
    expect((await pass()).requeued).toBe(3);
    await drain();
    await expectExact(crawlId, 7, 0);
  });

  it('queues the children counted before the page vanished (404 on its retry)', async () => {
    const { crawlId } = await submitCrawl({ urls: [`${site.url}/vanishing/1`], maxDepth: 1 }, { kind: 'api' }, { store, queue });
    const failing: PageSender = { send: async (messages) => [...messages] };
    await drain((m, attempt) => (m.depth === 0 && attempt === 1 ? failing : queue));
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 4, failed: 1 });
    await pass();
    await drain();
    await expectExact(crawlId, 4, 1);
  });

  it('ends a URL whose messages keep vanishing as failed (UNPROCESSED) after maxRequeues rounds', async () => {
    const { crawlId } = await submitCrawl({ urls: pageUrls(300, 3) }, { kind: 'api' }, { store, queue });
    for (let round = 0; round < settings.maxRequeues; round++) {
      expect(await loseMessages(3)).toBe(3);
      expect((await pass()).requeued).toBe(3);
    }
    expect(await loseMessages(3)).toBe(3);
    const last = await pass();
    expect(last).toMatchObject({ requeued: 0, failed: 3, completed: 1 });
    await expectExact(crawlId, 3, 3);
    const pages = (await store.listPages(crawlId, 10)).items;
    for (const page of pages) expect(page.error).toMatchObject({ code: UNPROCESSED, message: expect.stringMatching(/queued 3 times/) });
    expect((await reconcileStore.runningCrawls()).map((c) => c.crawlId)).not.toContain(crawlId);
  });

  it('leaves alone a URL whose delivery said it will be retried, until that is old news', async () => {
    const urls = pageUrls(600, 2);
    const { crawlId } = await submitCrawl({ urls }, { kind: 'api' }, { store, queue });
    expect(await loseMessages(2)).toBe(2);
    // As the next pass's clock sees it: the first URL's delivery just said it will be retried.
    await store.noteRetry(crawlId, urls[0]!, new Date(Date.now() + (passes + 1) * (settings.afterSeconds + 60) * 1000).toISOString());
    expect((await pass()).requeued).toBe(1);
    await drain();
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', succeeded: 1 });
    expect((await pass()).requeued).toBe(1);
    await drain();
    await expectExact(crawlId, 2, 0);
  });

  it('leaves stalled crawls alone while messages wait on the queue (a backlog is not a loss)', async () => {
    const urls = pageUrls(700, 3);
    const { crawlId } = await submitCrawl({ urls }, { kind: 'api' }, { store, queue });
    const report = await pass();
    expect(report).toMatchObject({ backlog: 3, requeued: 0, failed: 0 });
    await drain();
    await expectExact(crawlId, 3, 0);
    for (const url of urls) expect(site.hits.get(new URL(url).pathname)).toBe(1);
  });

  it('requeues a lost URL once when two passes overlap', async () => {
    const { crawlId } = await submitCrawl({ urls: pageUrls(800, 4) }, { kind: 'api' }, { store, queue });
    expect(await loseMessages(4)).toBe(4);
    passes++;
    const reports = await Promise.all([1, 2].map(() => reconcile({ reconcileStore, store, queue, backlog: () => queue.backlog(), now: later }, settings)));
    expect(reports.map((r) => r.requeued).sort()).toEqual([0, 4]);
    await drain();
    await expectExact(crawlId, 4, 0);
  });

  it('goes on with the other crawls when one cannot be reconciled', async () => {
    const [a, b] = [await submitCrawl({ urls: pageUrls(900, 2) }, { kind: 'api' }, { store, queue }), await submitCrawl({ urls: pageUrls(910, 2) }, { kind: 'api' }, { store, queue })];
    expect(await loseMessages(4)).toBe(4);
    // The store fails every read of crawl a's URLs.
    const failing: ReconcileStore = {
      runningCrawls: () => reconcileStore.runningCrawls(),
      claimCrawl: (...args) => reconcileStore.claimCrawl(...args),
      markRequeued: (...args) => reconcileStore.markRequeued(...args),
      unfinishedUrls: (id) => (id === a.crawlId ? Promise.reject(new Error('throttled')) : reconcileStore.unfinishedUrls(id)),
    };
    const errors: string[] = [];
    passes++;
    const report = await reconcile({ reconcileStore: failing, store, queue, backlog: () => queue.backlog(), now: later, onError: (id) => errors.push(id) }, settings);
    expect(report).toMatchObject({ errors: 1, requeued: 2 });
    expect(errors).toEqual([a.crawlId]);
    await drain();
    await expectExact(b.crawlId, 2, 0);
    expect((await pass()).requeued).toBe(2);
    await drain();
    await expectExact(a.crawlId, 2, 0);
  });

  it('completes a crawl whose last page was recorded but whose completion was lost', async () => {
    const { crawlId } = await submitCrawl({ urls: pageUrls(400, 2) }, { kind: 'api' }, { store, queue });
    // Record both outcomes without the completion check processPage makes.
    for (const url of pageUrls(400, 2)) await store.recordPage(crawlId, enqueueFailed(url, new Date().toISOString()), 0);
    await loseMessages(2);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', failed: 2 });
    expect((await pass()).completed).toBeGreaterThanOrEqual(1);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', completedAt: expect.any(String) });
  });

  it('starts one crawl per schedule event, however often the invocation is retried', async () => {
    const crawlId = crawlIdForEvent('nightly/7c1f0f4e-event', new Date('2026-11-30T03:00:00Z'));
    expect(crawlIdForEvent('nightly/7c1f0f4e-event', new Date('2026-11-30T03:00:00Z'))).toBe(crawlId);
    expect(crawlIdForEvent('nightly/another-event', new Date('2026-11-30T03:00:00Z'))).not.toBe(crawlId);
    const request = { urls: pageUrls(500, 4) };
    const source = { kind: 'schedule', name: 'nightly' } as const;
    const first = await submitCrawl(request, source, { store, queue }, { crawlId });
    const retried = await submitCrawl(request, source, { store, queue }, { crawlId });
    expect(first).toMatchObject({ crawlId, accepted: 4 });
    expect(retried).toMatchObject({ crawlId, accepted: 4, duplicate: true });
    await drain();
    await expectExact(crawlId, 4, 0);
    for (const url of request.urls) expect(site.hits.get(new URL(url).pathname)).toBe(1);
  });
});
