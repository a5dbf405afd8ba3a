import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import { FOLLOW_ON_MAX_WAIT_MS, processPage } from '../../functions/core/crawl/process-page.js';
import { startEngines, type Engines } from '../support/engines.js';
import { startSite } from '../support/site.js';
import { startPoliteSite, type PoliteSite, type SiteRequest } from '../../harness/polite-site.js';
import { hostKeyOf } from '../../functions/core/polite/pacing-policy.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/index.js';
import { DynamoHostPacer } from '../../functions/adapters/dynamodb/host-pace.js';
import { DynamoRobotsStore } from '../../functions/adapters/dynamodb/robots-cache.js';
import { fetchRobotsTxt } from '../../functions/core/fetch/robots-fetch.js';
import { DEFAULT_USER_AGENT } from '../../functions/core/fetch/user-agent.js';
import type { PoliteDeps } from '../../functions/core/polite/admission.js';
import { RobotsSource } from '../../functions/core/polite/robots-source.js';

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

describe("a delivery following on with its page's links on the page's own host", () => {
  let home: PoliteSite;
  let other: PoliteSite;
  let polite: PoliteDeps;
  let queue: SqsPageQueue;
  const INTERVAL_MS = 300;

  beforeAll(async () => {
    home = await startPoliteSite({
      answer: (path) => (path === '/b' && failB ? { status: 503, body: 'busy' } : undefined),
      onRequest: (request) => onHomeRequest?.(request),
    });
    other = await startPoliteSite();
    const t = { db: createDocumentClient(engines.dynamodb), name: engines.resources.tableName };
    polite = {
      // AutoThrottle off: a test's 503 leaves the host no penalty for the tests after it.
      settings: { userAgent: DEFAULT_USER_AGENT, hostDelayMs: 1_000, maxCrawlDelaySeconds: 30, maxThrottleMs: 0 },
      pacer: new DynamoHostPacer(t),
      robots: new RobotsSource({ store: new DynamoRobotsStore(t), fetch: (origin, turn) => fetchRobotsTxt(origin, { ...limits, turn }), userAgentToken: 'serverless-crawler', leaseMs: 15_000 }),
    };
    queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
  });
  afterAll(async () => {
    await Promise.all([home?.close(), other?.close()]);
    await engines.sqs.send(new PurgeQueueCommand({ QueueUrl: engines.resources.queueUrl })).catch(() => undefined);
  });

  let failB = false;
  let onHomeRequest: ((request: SiteRequest) => void) | undefined;
  /**
   * A crawl of the home page linking /a, /b, /c and /d on its host and one page on another host (or the links given),
   * paced at INTERVAL_MS.
   */
  async function linkedCrawl(links = `/a,/b,/c,/d,${encodeURIComponent(`${other.url}/x`)}`, maxDepth = 1): Promise<PageMessage> {
    const crawlId = ulid();
    const root = `${home.url}/?links=${links}`;
    await store.createCrawl(
      {
        crawlId, status: 'running', total: 1, succeeded: 0, failed: 0, createdAt: new Date().toISOString(),
        options: { maxDepth, sameOrigin: false, robotsTxt: 'ignore', hostDelayMs: INTERVAL_MS }, source: { kind: 'api' },
      },
      [root],
    );
    return { crawlId, url: root, depth: 0, maxDepth, sameOrigin: false };
  }
  const pathsSince = (site: PoliteSite, from: number) => site.requests.slice(from).map((r) => r.path);

  it('fetches them itself, each in its turn, and queues only the links on other hosts', async () => {
    const message = await linkedCrawl();
    const from = home.requests.length;
    let followed = 0;
    expect(await processPage(message, { store, queue, limits, polite, mayFollowOn: () => true, observeFollowOn: () => followed++ })).toBe('recorded');
    expect(pathsSince(home, from)).toEqual([message.url.slice(home.url.length), '/a', '/b', '/c', '/d']);
    expect(followed).toBe(4);
    expect(Math.min(...home.gaps().slice(from))).toBeGreaterThanOrEqual(INTERVAL_MS);
    // The other host's link is queued as any link is; the crawl counts it and completes once it is done.
    const waiting = await queued(message.crawlId);
    expect(waiting).toEqual([{ crawlId: message.crawlId, url: `${other.url}/x`, depth: 1, maxDepth: 1, sameOrigin: false }]);
    expect(await store.getCrawl(message.crawlId)).toMatchObject({ status: 'running', total: 6, succeeded: 5 });
    expect(await processPage(waiting[0]!, { store, queue, limits, polite, mayFollowOn: () => true })).toBe('recorded');
    expect(await store.getCrawl(message.crawlId)).toMatchObject({ status: 'completed', total: 6, succeeded: 6, failed: 0 });
  });

  it('follows on with the links of the pages it follows on with, to maxDepth', async () => {
    // / links /a (which links /e) and /b.
    const message = await linkedCrawl(`${encodeURIComponent('/a?links=/e')},/b`, 2);
    const from = home.requests.length;
    expect(await processPage(message, { store, queue, limits, polite, mayFollowOn: () => true })).toBe('recorded');
    expect(pathsSince(home, from).slice(1)).toEqual(['/a?links=/e', '/b', '/e']);
    expect(Math.min(...home.gaps().slice(from))).toBeGreaterThanOrEqual(INTERVAL_MS);
    expect(await queued(message.crawlId)).toEqual([]);
    expect(await store.getCrawl(message.crawlId)).toMatchObject({ status: 'completed', total: 4, succeeded: 4, failed: 0 });
  });

  it('queues the links it kept when its page cannot be recorded, since the page may be recorded all the same', async () => {
    const message = await linkedCrawl();
    const from = home.requests.length;
    const lost = () => Promise.reject(new Error('the answer was lost'));
    await expect(processPage(message, { store, queue, limits, polite, mayFollowOn: () => true, recordPage: lost })).rejects.toThrow(/could not be processed/);
    expect(pathsSince(home, from)).toHaveLength(1);
    expect((await queued(message.crawlId)).map((m) => m.url.slice(m.url.lastIndexOf('/'))).sort()).toEqual(['/a', '/b', '/c', '/d', '/x']);
  });

  it("waits in the function for a turn its host's other work puts a little further off than admission waits, holding its slot", async () => {
    const message = await linkedCrawl();
    const host = hostKeyOf(home.url);
    const from = home.requests.length;
    // Five of the other crawl's turns ahead of the first link: its slot is about 2 s off, more than the 1.5 s admission
    // waits for but within FOLLOW_ON_MAX_WAIT_MS, so it reserves the slot and waits for it here.
    onHomeRequest = (request) => {
      if (request.path !== message.url.slice(home.url.length)) return;
      for (let i = 0; i < 5; i++) void polite.pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS }).catch(() => undefined);
    };
    try {
      expect(await processPage(message, { store, queue, limits, polite, mayFollowOn: () => true })).toBe('recorded');
    } finally {
      onHomeRequest = undefined;
    }
    const seen = home.requests.slice(from);
    expect(seen.map((r) => r.path).slice(1)).toEqual(['/a', '/b', '/c', '/d']);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(6 * INTERVAL_MS);
    expect((await queued(message.crawlId)).map((m) => m.url)).toEqual([`${other.url}/x`]);
  });

  it('queues every link when the invocation does not let it follow on', async () => {
    const message = await linkedCrawl();
    const from = home.requests.length;
    expect(await processPage(message, { store, queue, limits, polite, mayFollowOn: () => false })).toBe('recorded');
    expect(pathsSince(home, from)).toHaveLength(1);
    expect((await queued(message.crawlId)).map((m) => m.url.slice(m.url.lastIndexOf('/'))).sort()).toEqual(['/a', '/b', '/c', '/d', '/x']);
  });

  it('stops once the invocation says no more, and queues the links it has not started', async () => {
    const message = await linkedCrawl();
    const from = home.requests.length;
    // No more once /a has reached the site: /b was already waiting for the turn after it, claimed as /a was let go
    // (PRECONNECT_MS before its turn, when its bytes leave).
    const seen = () => pathsSince(home, from);
    expect(await processPage(message, { store, queue, limits, polite, mayFollowOn: () => !seen().includes('/a') })).toBe('recorded');
    expect(seen().slice(1)).toEqual(['/a', '/b']);
    expect((await queued(message.crawlId)).map((m) => m.url.slice(m.url.lastIndexOf('/'))).sort()).toEqual(['/c', '/d', '/x']);
    expect(await store.getCrawl(message.crawlId)).toMatchObject({ status: 'running', total: 6, succeeded: 3 });
  });

  it('queues a link whose delivery failed as any may, on its own with that attempt spent, and goes on with the others', async () => {
    const message = await linkedCrawl();
    const from = home.requests.length;
    failB = true;
    try {
      expect(await processPage(message, { store, queue, limits, polite, mayFollowOn: () => true, retry: { maxAttempts: 3, baseDelaySeconds: 0, maxDelaySeconds: 1 } })).toBe('recorded');
    } finally {
      failB = false;
    }
    expect(pathsSince(home, from).slice(1)).toEqual(['/a', '/b', '/c', '/d']);
    // /b's retry is delayed (a second here): received once it is visible.
    const waiting = await queued(message.crawlId);
    for (let tries = 0; waiting.length < 2 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      waiting.push(...(await queued(message.crawlId)));
    }
    waiting.sort((x, y) => x.url.localeCompare(y.url));
    expect(waiting).toEqual([
      { crawlId: message.crawlId, url: `${home.url}/b`, depth: 1, maxDepth: 1, sameOrigin: false, attempts: 1 },
      { crawlId: message.crawlId, url: `${other.url}/x`, depth: 1, maxDepth: 1, sameOrigin: false },
    ].sort((x, y) => x.url.localeCompare(y.url)));
    expect(await store.getCrawl(message.crawlId)).toMatchObject({ status: 'running', total: 6, succeeded: 4 });
  });

  it("sends a link whose turn is further off than it waits to the turn queue, and the rest to the page queue, once its host is busy", async () => {
    const message = await linkedCrawl();
    const host = hostKeyOf(home.url);
    const from = home.requests.length;
    // Once the home page is asked, another crawl's URLs take the host's turns for the next seconds: their claims go
    // in this process's line for the host ahead of the first link's. (Last here: the host stays busy that long.)
    const busy = (request: { path: string }) => {
      if (request.path !== message.url.slice(home.url.length)) return;
      for (let i = 0; i < 15; i++) void polite.pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS }).catch(() => undefined);
    };
    onHomeRequest = busy;
    const turnQueue = new SqsPageQueue({ queueUrl: engines.resources.turnQueueUrl, client: engines.sqs });
    try {
      expect(await processPage(message, { store, queue, turnQueue, limits, polite, mayFollowOn: () => true })).toBe('recorded');
    } finally {
      onHomeRequest = undefined;
    }
    const sentAt = Date.now();
    expect(pathsSince(home, from)).toHaveLength(1);
    // The first link holds a slot seconds away and comes back for it from the turn queue (received once its delay is
    // over); the others, which did not claim, are on the page queue.
    expect((await queued(message.crawlId)).map((m) => m.url.slice(m.url.lastIndexOf('/'))).sort()).toEqual(['/b', '/c', '/d', '/x']);
    const back: PageMessage[] = [];
    // Delayed until its slot, about five seconds away (15 turns of the other crawl's, 340 ms apart).
    while (back.length === 0 && Date.now() - sentAt < 15 * (INTERVAL_MS + 40) + 5_000) {
      const out = await engines.sqs.send(new ReceiveMessageCommand({ QueueUrl: engines.resources.turnQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      back.push(...(out.Messages ?? []).map((m) => JSON.parse(m.Body!) as PageMessage).filter((m) => m.crawlId === message.crawlId));
      if (back.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(back).toEqual([expect.objectContaining({ url: `${home.url}/a`, reservation: expect.any(Number) })]);
    expect(back[0]!.reservation! - sentAt).toBeGreaterThan(FOLLOW_ON_MAX_WAIT_MS - 1_000);
  });
});
