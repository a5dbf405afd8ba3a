import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from 'vitest';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startFaultServer } from '../support/fault-server.js';
import { startSite } from '../support/site.js';

/**
 * Nothing stuck, nothing lost, through the whole local stack (functions in their own containers, real queues and
 * table): pages that fail on every attempt end as failed after maxReceiveCount deliveries, and messages lost outside
 * the crawler (taken by another client, dead-lettered) are found by the reconciler and their URLs still end once.
 */
const config = parseCrawlerConfig({
  // Short function timeouts make the retry ladder fit a test. Every container is a thread on this machine's cores
  // (Lambda gives each its own), so the consumer gets a laptop's share of containers, not a region's.
  consumer: { timeoutSeconds: 5, maxConcurrency: 4 },
  fetch: { timeoutMs: 1_000, connectTimeoutMs: 500, headersTimeoutMs: 800 },
  queue: { maxReceiveCount: 3 },
  retry: { baseDelaySeconds: 0, maxDelaySeconds: 1 },
  // Long enough that a crawl still retrying is never taken for a stalled one; short enough for a test.
  reconcile: { afterSeconds: 8, maxRequeues: 3 },
  // Loopback servers of our own, failing on purpose: no delay between requests, and no AutoThrottle slowing them down
  // (politeness has its own tests).
  politeness: { hostDelayMs: 0, maxThrottleMs: 0 },
});

let stack: LocalStack;
let faults: Awaited<ReturnType<typeof startFaultServer>>;
let site: Awaited<ReturnType<typeof startSite>>;
let sqs: SQSClient;
const stackLog: string[] = [];

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  [faults, site] = await Promise.all([startFaultServer(), startSite()]);
  stack = await startLocalStack({ config, port: 0, reconcileEveryMs: 1_000, log: (line) => stackLog.push(`${new Date().toISOString().slice(11, 23)} ${line}`) });
  sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: stack.sqsEndpoint });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  sqs?.destroy();
  await stack?.stop();
  await faults?.close();
  await site?.close();
});

// Whatever fails (a timeout included) says what the stack did meanwhile: its log, less the status polls.
beforeEach(() => {
  const from = stackLog.length;
  onTestFailed(async () => {
    console.log(`queues: ${JSON.stringify(await messagesLeft().catch((e: Error) => e.message))}\nstack log:\n${stackLog.slice(from).filter((l) => !l.includes(' GET ')).join('\n')}`);
  });
});

/** Messages visible, in flight and delayed, on the page queue and the turn queue, and on their DLQ. */
async function messagesLeft(): Promise<{ queue: number; deadLetters: number }> {
  const count = async (url: string) => {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return Object.values(out.Attributes ?? {}).reduce((sum, n) => sum + Number(n), 0);
  };
  return { queue: (await count(stack.resources.queueUrl)) + (await count(stack.resources.turnQueueUrl)), deadLetters: await count(stack.resources.deadLetterQueueUrl) };
}

/** What is left once the queue has settled: messages still in flight (a duplicate being discarded) get 20 s. */
async function drained(): Promise<{ queue: number; deadLetters: number }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const left = await messagesLeft();
    if (left.queue === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Another client takes up to `count` messages off the page queue; `then` decides what becomes of each. */
async function takeMessages(count: number, then: (body: string) => Promise<unknown> = async () => undefined): Promise<number> {
  let taken = 0;
  // A short poll each time (the queue's own default is a 20 s long poll), for at most 20 s in all.
  for (const deadline = Date.now() + 20_000; taken < count && Date.now() < deadline; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.resources.queueUrl, MaxNumberOfMessages: Math.min(10, count - taken), VisibilityTimeout: 60, WaitTimeSeconds: 0 }),
    );
    for (const m of out.Messages ?? []) {
      await then(m.Body!);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.resources.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
      taken++;
    }
  }
  return taken;
}

/** Waits for the crawl to complete; if it does not, says what the stack did (its log, the queues). */
async function completion(crawlId: string, timeoutMs = 50_000): Promise<any> {
  return waitForCompletion(stack.apiUrl, crawlId, timeoutMs).catch(async (err: Error) => {
    throw new Error(`${err.message}\nqueues: ${JSON.stringify(await messagesLeft())}\nstack log:\n${stackLog.filter((l) => !l.includes(' GET ')).slice(-60).join('\n')}`);
  });
}

async function expectEveryUrlOnce(crawlId: string, urls: readonly string[]): Promise<any[]> {
  const pages = await allPages(stack.apiUrl, crawlId, 100);
  expect(pages.map((p) => p.url).sort()).toEqual([...urls].sort());
  return pages;
}

describe('nothing stuck, nothing lost (local stack)', () => {
  // How often each URL was fetched is the retry ladder's business (test/e2e/retries.test.ts): here a busy machine may
  // spend a delivery without a fetch (an invocation that reached its deadline first), or the reconciler may queue a
  // slow URL again; neither may change how each URL ends or what the crawl counts.
  it('ends 64 always-503 and 20 hanging URLs as failed after 3 attempts each, with exact counts and empty queues', async () => {
    const failing = Array.from({ length: 64 }, (_, i) => `${faults.url}/503?key=s${i}`);
    const hanging = Array.from({ length: 20 }, (_, i) => `${faults.url}/hang?key=h${i}`);
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls: [...failing, ...hanging] });
    expect(submit.status).toBe(202);
    const done = await completion(submit.body.crawlId);
    expect(done).toMatchObject({ status: 'completed', total: 84, succeeded: 0, failed: 84 });

    const pages = await expectEveryUrlOnce(submit.body.crawlId, [...failing, ...hanging]);
    for (const page of pages) {
      const code = page.url.includes('/503') ? 'HTTP_503' : 'TIMEOUT';
      expect([page.url, page.error.code, page.error.message]).toEqual([page.url, code, expect.stringMatching(/\(3 attempts\)$/)]);
    }
    expect(await drained()).toEqual({ queue: 0, deadLetters: 0 });
  }, 120_000);

  it('completes a crawl that lost a third of its messages, every URL listed once and fetched once', async () => {
    const urls = Array.from({ length: 90 }, (_, i) => `${site.url}/page/${1_000 + i}`);
    await stack.eventSource.setEnabled(false);
    let crawlId: string;
    try {
      const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls });
      expect(submit.status).toBe(202);
      crawlId = submit.body.crawlId;
      // Received and deleted unprocessed by another client. (local-aws-sqs 2.0.2's PurgeQueue removes nothing.)
      expect(await takeMessages(30)).toBe(30);
    } finally {
      await stack.eventSource.setEnabled(true);
    }
    const done = await completion(crawlId);
    expect(done).toMatchObject({ status: 'completed', total: 90, succeeded: 90, failed: 0 });
    await expectEveryUrlOnce(crawlId, urls);
    for (const url of urls) expect([url, site.hits.get(new URL(url).pathname)]).toEqual([url, 1]);
    expect((await drained()).queue).toBe(0);
  }, 120_000);

  it('ends the URL of a dead-lettered message', async () => {
    const urls = Array.from({ length: 5 }, (_, i) => `${site.url}/page/${2_000 + i}`);
    const deadBefore = (await drained()).deadLetters;
    await stack.eventSource.setEnabled(false);
    let crawlId: string;
    try {
      const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls });
      crawlId = submit.body.crawlId;
      // What SQS's redrive policy does after maxReceiveCount: the message moves to the DLQ, unprocessed.
      expect(await takeMessages(2, (body) => sqs.send(new SendMessageCommand({ QueueUrl: stack.resources.deadLetterQueueUrl, MessageBody: body })))).toBe(2);
    } finally {
      await stack.eventSource.setEnabled(true);
    }
    const done = await completion(crawlId);
    expect(done).toMatchObject({ status: 'completed', total: 5, succeeded: 5, failed: 0 });
    await expectEveryUrlOnce(crawlId, urls);
    // The dead letters stay for an operator to look at; the crawl did not wait for them.
    expect((await drained()).deadLetters - deadBefore).toBe(2);
  }, 120_000);
});
