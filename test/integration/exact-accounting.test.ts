import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import type { CrawlStore, PageSender } from '../../functions/core/model/ports.js';
import { processPage } from '../../functions/core/crawl/process-page.js';
import { RecordBatcher } from '../../functions/core/crawl/record-batcher.js';
import { RetryLater } from '../../functions/core/crawl/retry-policy.js';
import { submitCrawl } from '../../functions/core/crawl/submit-crawl.js';
import { startEngines, type Engines } from '../support/engines.js';
import { startSite } from '../support/site.js';

/**
 * Exact accounting on the real engines: consumers that die at every step boundary, the same message delivered
 * twice, and two consumers on one crawl at once. A "crash" throws out of processPage at the chosen point, leaving
 * whatever was written before it; the message then comes back, as SQS redelivers it after a Lambda dies.
 */
let engines: Engines;
let site: Awaited<ReturnType<typeof startSite>>;
let store: DynamoCrawlStore;
let queue: SqsPageQueue;
const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
// The attempt is SQS's receive count, and the last one is the queue's maxReceiveCount, as in the consumer.
const retry = () => ({ maxAttempts: engines.config.queue.maxReceiveCount, baseDelaySeconds: 0, maxDelaySeconds: 0 });

beforeAll(async () => {
  [engines, site] = await Promise.all([startEngines(), startSite()]);
  store = engines.store;
  queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
});
afterAll(async () => {
  await engines?.stop();
  await site?.close();
});

class Crash extends Error {}
type Step = `${'before' | 'after'}:${string}`;

/** The store and queue as one delivery sees them, crashing where `crashAt` says. */
function faulty(crashAt: (step: Step) => boolean): { store: CrawlStore; queue: PageSender } {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, name, receiver) {
        const value = Reflect.get(obj, name, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (crashAt(`before:${String(name)}`)) throw new Crash(`before ${String(name)}`);
          const result = await value.apply(obj, args);
          if (crashAt(`after:${String(name)}`)) throw new Crash(`after ${String(name)}`);
          return result;
        };
      },
    });
  return { store: wrap(store), queue: wrap(queue) };
}

interface Stats {
  deliveries: number;
  crashes: number;
  duplicatesSent: number;
}

/**
 * Consumers draining the real queue until every crawl is completed. `crashAt(message, step)` decides the crashes;
 * `duplicate(message)` whether a processed message is sent once more (an at-least-once duplicate).
 */
async function drain(
  crawlIds: string[],
  options: {
    consumers: number;
    crashAt: (m: PageMessage, step: Step, attempt: number) => boolean;
    duplicate?: (m: PageMessage) => boolean;
    /** Record through a shared RecordBatcher, as the consumer does, instead of one transaction per page. */
    recordPage?: RecordBatcher['recordPage'];
  },
): Promise<Stats> {
  const stats: Stats = { deliveries: 0, crashes: 0, duplicatesSent: 0 };
  const deadline = Date.now() + 60_000;
  const allDone = async () => (await Promise.all(crawlIds.map((id) => store.getCrawl(id)))).every((c) => c?.status === 'completed');
  let finished = false;
  const duplicated = new Set<string>();
  const consumer = async () => {
    while (!finished && Date.now() < deadline) {
      const out = await engines.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: engines.resources.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30, AttributeNames: ['All'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) {
        if (await allDone()) finished = true;
        else await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await Promise.all(
        messages.map(async (m) => {
          const message = JSON.parse(m.Body!) as PageMessage;
          stats.deliveries++;
          const attempt = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
          try {
            // The redelivery comes at once here, as if the visibility timeout had passed, and so has the dead
            // delivery's lease on the children it registered.
            const deps = { ...faulty((step) => options.crashAt(message, step, attempt)), limits, retry: retry(), leaseUntil: Date.now() };
            await processPage(message, options.recordPage ? { ...deps, recordPage: options.recordPage } : deps, attempt);
          } catch (err) {
            // processPage turns an unexpected error on a non-final attempt into RetryLater; a crash is one. A real
            // RetryLater (e.g. DynamoDB transaction conflicts on a loaded machine) is redelivered the same way, as the
            // consumer does.
            const crash = err instanceof Crash || (err instanceof RetryLater && err.cause instanceof Crash);
            if (!crash && !(err instanceof RetryLater)) throw err;
            if (crash) stats.crashes++;
            // The Lambda died: the message comes back (at once here, instead of after the visibility timeout).
            await engines.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: engines.resources.queueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
            return;
          }
          await engines.sqs.send(new DeleteMessageCommand({ QueueUrl: engines.resources.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
          // A duplicate is sent once per original message, never for a duplicate itself.
          const key = `${message.crawlId} ${message.url}`;
          if (!duplicated.has(key) && options.duplicate?.(message)) {
            duplicated.add(key);
            stats.duplicatesSent++;
            await engines.sqs.send(new SendMessageCommand({ QueueUrl: engines.resources.queueUrl, MessageBody: m.Body! }));
          }
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: options.consumers }, consumer));
  if (!finished) {
    const states = await Promise.all(crawlIds.map((id) => store.getCrawl(id)));
    throw new Error(`crawls did not complete in 60 s: ${JSON.stringify(states.map((c) => c && { total: c.total, succeeded: c.succeeded, failed: c.failed, status: c.status }))}`);
  }
  return stats;
}

async function submit(urls: string[], maxDepth: number): Promise<string> {
  const result = await submitCrawl({ urls, maxDepth }, { kind: 'api' }, { store, queue });
  return result.crawlId;
}

/** Counts, the listing and the summaries agree: each URL once, succeeded + failed == total. */
async function expectExact(crawlId: string, total: number, succeeded: number): Promise<void> {
  const crawl = await store.getCrawl(crawlId);
  expect(crawl).toMatchObject({ status: 'completed', total, succeeded, failed: total - succeeded });
  const urls: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listPages(crawlId, 100, cursor);
    urls.push(...page.items.map((s) => s.url));
    cursor = page.cursor ?? undefined;
  } while (cursor);
  expect(urls).toHaveLength(total);
  expect(new Set(urls).size).toBe(total);
}

// A binary tree of depth 2 under /graph/0: 7 pages, each linking back to the root and off-site.
const TREE_PAGES = 7;

describe('exact accounting under crashes, duplicates and concurrency', () => {
  const steps: [string, Step[]][] = [
    ['after the fetch, before any write', ['before:registerLinks', 'before:putLatest']],
    ['after registering the links', ['after:registerLinks']],
    ['after queueing the links', ['after:send']],
    ['after writing the latest summary', ['after:putLatest']],
    ['after the summary write and the count (one transaction)', ['after:recordPage']],
    ['after the completion check', ['after:completeIfDone']],
  ];
  it.each(steps)('a consumer that dies %s is repaired by the redelivery', async (_name, points) => {
    const crashed = new Set<string>();
    const crawlId = await submit([`${site.url}/graph/0`], 2);
    const stats = await drain([crawlId], {
      consumers: 1,
      crashAt: (m, step) => {
        if (!points.includes(step) || crashed.has(m.url)) return false;
        crashed.add(m.url);
        return true;
      },
    });
    await expectExact(crawlId, TREE_PAGES, TREE_PAGES);
    // Every page died once at this step (leaves have no links to register or queue).
    const onlyParents = points.every((p) => p === 'after:registerLinks' || p === 'after:send');
    expect(stats.crashes).toBe(onlyParents ? 3 : TREE_PAGES);
    const latest = await store.getLatest(`${site.url}/graph/6`);
    expect(latest?.title).toBe('graph 6');
  });

  it('counts every URL once when each message is delivered twice and two consumers share the crawl', async () => {
    const crawlId = await submit([`${site.url}/graph/0`, ...Array.from({ length: 30 }, (_, n) => `${site.url}/page/${n}`)], 2);
    const stats = await drain([crawlId], { consumers: 2, crashAt: () => false, duplicate: () => true });
    // /page/N links to N % 7 pages under /elsewhere/, which answer 404: followed, counted, failed.
    const elsewhere = Array.from({ length: 30 }, (_, n) => n % 7).reduce((a, b) => a + b, 0);
    await expectExact(crawlId, TREE_PAGES + 30 + elsewhere, TREE_PAGES + 30);
    expect(stats.duplicatesSent).toBe(TREE_PAGES + 30 + elsewhere);
  }, 90_000);

  it('stays exact under random crashes anywhere, duplicates and two consumers, over three crawls at once', async () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const crawlIds = await Promise.all([
      submit([`${site.url}/graph/0`], 3),
      submit([`${site.url}/graph/0`, `${site.url}/graph/1`], 2),
      submit([...Array.from({ length: 20 }, (_, n) => `${site.url}/page/${100 + n}`), `${site.url}/missing/1`], 0),
    ]);
    // Any call may die, on every attempt but the last (a death there is the DLQ's case, tested below).
    const stats = await drain(crawlIds, {
      consumers: 2,
      crashAt: (_m, _step, attempt) => attempt < retry().maxAttempts && random() < 0.1,
      duplicate: () => random() < 0.3,
    });
    await expectExact(crawlIds[0]!, 15, 15);
    // Seeds 0 and 1 at depth 0: 0 → 2 → 5, 6 and 1 → 3, 4 → 7, 8, 9, 10.
    await expectExact(crawlIds[1]!, 11, 11);
    await expectExact(crawlIds[2]!, 21, 20);
    expect(stats.crashes).toBeGreaterThan(5);
    console.log(`exact accounting under chaos: ${stats.deliveries} deliveries, ${stats.crashes} crashes, ${stats.duplicatesSent} duplicates sent; 47 URLs counted exactly once`);
  }, 90_000);

  it('stays exact when pages share transactions (RecordBatcher) and the shared writes die too', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    // A batched write that dies before or after committing fails every page in it; each is redelivered.
    const dyingBatches = faulty((step) => step.endsWith(':recordPages') && random() < 0.2).store;
    const batcher = new RecordBatcher(dyingBatches, 15);
    const crawlIds = await Promise.all([
      submit([`${site.url}/graph/0`], 3),
      submit(Array.from({ length: 40 }, (_, n) => `${site.url}/page/${200 + n}`), 0),
    ]);
    const stats = await drain(crawlIds, { consumers: 2, crashAt: () => false, duplicate: () => random() < 0.3, recordPage: batcher.recordPage });
    await expectExact(crawlIds[0]!, 15, 15);
    await expectExact(crawlIds[1]!, 40, 40);
    console.log(`batched recording under failures: ${stats.deliveries} deliveries, ${stats.duplicatesSent} duplicates sent; 55 URLs counted exactly once`);
  }, 90_000);

  it('records the URL as failed when the last attempt dies, so the crawl completes; and lets the error out if even that fails', async () => {
    const crawlId = await submit([`${site.url}/page/7`, `${site.url}/page/8`], 0);
    const last = retry().maxAttempts;
    const seven: PageMessage = { crawlId, url: `${site.url}/page/7`, depth: 0, maxDepth: 0, sameOrigin: true };
    const dying = faulty((step) => step === 'before:putLatest');
    await expect(processPage(seven, { ...dying, limits, retry: retry() }, last - 1)).rejects.toBeInstanceOf(RetryLater);
    expect(await processPage(seven, { ...dying, limits, retry: retry() }, last)).toBe('recorded');
    const [page] = (await store.listPages(crawlId, 10)).items.filter((s) => s.url === seven.url);
    // The reason carries the underlying error, as every attempt's log line does.
    expect(page?.error).toEqual({ code: 'INTERNAL_ERROR', message: `the page could not be processed in ${last} attempts (last: Error: before putLatest)` });

    const eight = { ...seven, url: `${site.url}/page/8` };
    const cannotRecord = faulty((step) => step === 'before:recordPage');
    await expect(processPage(eight, { ...cannotRecord, limits, retry: retry() }, last)).rejects.toBeInstanceOf(Crash);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 2, failed: 1 });
  });
});
