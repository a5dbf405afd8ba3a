import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { hostPaceKey, sitemapKey } from '../../functions/adapters/dynamodb/keys.js';
import { DynamoHostPacer } from '../../functions/adapters/dynamodb/host-pace.js';
import { hostKeyOf } from '../../functions/core/polite/pacing-policy.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, DynamoReconcileStore, type DynamoCrawlStore, type DynamoSitemapStore } from '../../functions/adapters/dynamodb/index.js';
import { reconcile } from '../../functions/core/crawl/reconcile.js';
import { RetryLater } from '../../functions/core/crawl/retry-policy.js';
import { submitCrawl } from '../../functions/core/crawl/submit-crawl.js';
import { FetchError } from '../../functions/core/fetch/http-client.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import { enqueueFailed } from '../../functions/core/model/summary.js';
import { processSitemap, type SitemapDeps } from '../../functions/core/sitemap/process-sitemap.js';
import { guardedSitemapFetch, type SitemapResponse } from '../../functions/core/sitemap/sitemap-fetch.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { SitemapMessage } from '../../functions/core/sitemap/sitemap-message.js';
import { startEngines, type Engines } from '../support/engines.js';

/**
 * Sitemap work on DynamoDB Local, its fetches answered by a table of bodies (no network): each piece counted once and
 * ended once however often its message comes, the crawl completing only after it, and whatever fails (a 5xx to the
 * last attempt, a lost message, a bomb of an index) still ending it.
 */
let engines: Engines;
let store: DynamoCrawlStore;
let sitemaps: DynamoSitemapStore;
beforeAll(async () => {
  engines = await startEngines();
  store = engines.store;
  sitemaps = store.sitemapStore();
});
afterAll(() => engines?.stop());

type Body = { status: number; body?: string | (() => Iterable<Buffer>) } | 'reset';
const ORIGIN = 'https://site.example';

/** A queue that keeps what it was given, by kind. */
function memoryQueue() {
  const pages: PageMessage[] = [];
  const maps: SitemapMessage[] = [];
  const delays: number[] = [];
  return {
    pages,
    maps,
    delays,
    send: async <M extends PageMessage | SitemapMessage>(messages: readonly M[], options: { delaySeconds?: number } = {}) => {
      for (const m of messages) ('kind' in m ? maps.push(m as SitemapMessage) : pages.push(m as PageMessage));
      delays.push(options.delaySeconds ?? 0);
      return [] as M[];
    },
  };
}

function deps(site: Record<string, Body>, queue = memoryQueue(), fetched: string[] = []): SitemapDeps & { queue: ReturnType<typeof memoryQueue>; fetched: string[] } {
  return {
    store,
    sitemaps,
    queue,
    sitemapQueue: queue,
    fetched,
    retry: { maxAttempts: 3, baseDelaySeconds: 0, maxDelaySeconds: 0 },
    fetch: async (url): Promise<SitemapResponse> => {
      fetched.push(url);
      const answer = site[new URL(url).pathname] ?? { status: 404 };
      if (answer === 'reset') throw new FetchError('CONNECTION_RESET', 'reset', url, null, true);
      const body = typeof answer.body === 'function' ? Readable.from(answer.body()) : Readable.from(answer.body ? [Buffer.from(answer.body)] : []);
      return { kind: 'response', status: answer.status, finalUrl: url, body, close: () => body.destroy() };
    },
  };
}

const urlset = (paths: string[]) => ({ status: 200, body: `<urlset>${paths.map((p) => `<url><loc>${ORIGIN}${p}</loc></url>`).join('')}</urlset>` });
const index = (paths: string[]) => ({ status: 200, body: `<sitemapindex>${paths.map((p) => `<sitemap><loc>${ORIGIN}${p}</loc></sitemap>`).join('')}</sitemapindex>` });

/** Runs every sitemap message until none is left (each at its first attempt unless `attempt` says); the pages queued. */
async function drain(d: ReturnType<typeof deps>, attempt = 1): Promise<PageMessage[]> {
  for (let m = d.queue.maps.shift(); m; m = d.queue.maps.shift()) await processSitemap(m, d, attempt);
  return d.queue.pages;
}

async function start(request: Record<string, unknown>, d: ReturnType<typeof deps>) {
  const result = await submitCrawl({ urls: [`${ORIGIN}/`], ...request }, { kind: 'api' }, { store, queue: d.queue, sitemapQueue: d.queue });
  return result.crawlId;
}

describe('sitemap work on the real table', () => {
  it('counts each piece once and each URL once, however often a message comes, and blocks completion until it ends', async () => {
    const d = deps({ '/robots.txt': { status: 200, body: `Sitemap: ${ORIGIN}/i.xml\nSitemap: ${ORIGIN}/i.xml\n` }, '/i.xml': index(['/a.xml', '/b.xml']), '/a.xml': urlset(['/1', '/2', '/']), '/b.xml': urlset(['/2', '/3']) });
    const crawlId = await start({ sitemap: 'only' }, d);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 0 });
    // Nothing pending but the sitemaps: the crawl may not complete.
    expect(await store.completeIfDone(crawlId, new Date().toISOString())).toBe(false);
    // Every message delivered twice.
    const seen: SitemapMessage[] = [];
    for (let m = d.queue.maps.shift(); m; m = d.queue.maps.shift()) {
      seen.push(m);
      await processSitemap(m, d);
      expect(await processSitemap(m, d)).toBe('duplicate');
    }
    expect(seen.map((m) => `${m.level} ${new URL(m.url).pathname}`)).toEqual(['0 /robots.txt', '1 /i.xml', '2 /a.xml', '2 /b.xml']);
    expect(d.queue.pages.map((p) => new URL(p.url).pathname).sort()).toEqual(['/', '/1', '/2', '/3']);
    expect(d.queue.pages.every((p) => p.depth === 0 && p.maxDepth === 0)).toBe(true);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 4 });
    // The pages end: now the crawl completes, once.
    for (const p of d.queue.pages) await store.recordPage(crawlId, failed(p.url), 0);
    expect(await store.completeIfDone(crawlId, new Date().toISOString())).toBe(true);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', total: 4, failed: 4 });
  });

  it('ends a sitemap that keeps failing on its last attempt, and a 404 at once, so the crawl completes', async () => {
    const d = deps({ '/robots.txt': { status: 200, body: `Sitemap: ${ORIGIN}/down.xml\nSitemap: ${ORIGIN}/gone.xml\nSitemap: ${ORIGIN}/reset.xml` }, '/down.xml': { status: 503 }, '/reset.xml': 'reset' });
    const crawlId = await start({ sitemap: 'only' }, d);
    await processSitemap(d.queue.maps.shift()!, d);
    const [down, gone, reset] = d.queue.maps.splice(0);
    await expect(processSitemap(down!, d, 1)).rejects.toBeInstanceOf(RetryLater);
    await expect(processSitemap(reset!, d, 2)).rejects.toBeInstanceOf(RetryLater);
    expect(await processSitemap(gone!, d, 1)).toBe('ended');
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running' });
    expect(await processSitemap(down!, d, 3)).toBe('ended');
    expect(await processSitemap(reset!, d, 3)).toBe('ended');
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', total: 0 });
  });

  it('reads at most 50 sitemaps of an origin (an index of 50,000), and indexes 3 levels deep', async () => {
    const many = Array.from({ length: 50_000 }, (_, i) => `/s/${i}.xml`);
    const bomb = deps({ '/sitemap.xml': index(many) });
    const bombed = await start({ sitemap: 'include' }, bomb);
    await drain(bomb);
    // robots.txt (level 0), then /sitemap.xml and 49 of its entries: 50 in all past level 0.
    expect(bomb.fetched.filter((u) => !u.endsWith('/robots.txt'))).toHaveLength(50);

    const deep = deps({ '/sitemap.xml': index(['/deep2.xml']), '/deep2.xml': index(['/deep3.xml']), '/deep3.xml': index(['/deep4.xml']), '/deep4.xml': urlset(['/never']) });
    const deepened = await start({ sitemap: 'include' }, deep);
    await drain(deep);
    expect(deep.fetched.map((u) => new URL(u).pathname)).toEqual(['/robots.txt', '/sitemap.xml', '/deep2.xml', '/deep3.xml']);
    for (const crawlId of [bombed, deepened]) {
      expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 1 });
      await store.recordPage(crawlId, failed(`${ORIGIN}/`), 0);
      expect(await store.completeIfDone(crawlId, new Date().toISOString())).toBe(true);
    }
  });

  it('a sitemap whose host’s turn is later comes back as a new message on the turn queue with its attempts and reservation, and ends then', async () => {
    const d = deps({ '/sitemap.xml': urlset(['/w']) });
    const crawlId = await start({ sitemap: 'only' }, d);
    await processSitemap(d.queue.maps.shift()!, d);
    const map = d.queue.maps.shift()!;
    const fetch = d.fetch;
    d.fetch = async () => ({ kind: 'wait', delayMs: 2_500, reservation: 1234 });
    const turnQueue = memoryQueue();
    const before = Date.now();
    expect(await processSitemap(map, { ...d, turnQueue }, 2)).toBe('deferred');
    expect(d.queue.maps).toEqual([]);
    expect(turnQueue.maps).toEqual([{ ...map, attempts: 1, reservation: 1234 }]);
    expect(turnQueue.delays).toEqual([3]);
    d.queue.maps.push(turnQueue.maps.shift()!);
    // Alive until it comes back, not just now: the reconciler must not take a long wait for lost work.
    const record = await createDocumentClient(engines.dynamodb).send(new GetCommand({ TableName: engines.resources.tableName, Key: sitemapKey(crawlId, map) }));
    expect(Date.parse(record.Item!['retriedAt'] as string)).toBeGreaterThanOrEqual(before + 3_000);
    d.fetch = fetch;
    expect(await processSitemap(d.queue.maps.shift()!, d, 2)).toBe('ended');
    expect(d.queue.pages.map((p) => p.url)).toEqual([`${ORIGIN}/w`]);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'running', total: 1 });
  });

  it('reads a gzip bomb up to the 50 MB cap (the entries before it kept) and ends it', async () => {
    const head = gzipSync(`<urlset><url><loc>${ORIGIN}/before-the-bomb</loc></url>`);
    // 80 gzip members of 1 MiB of spaces each: 80 KB on the wire, 80 MiB once inflated.
    const member = gzipSync(Buffer.alloc(1024 * 1024, ' '));
    const d = deps({ '/sitemap.xml': { status: 200, body: () => [head, ...Array.from({ length: 80 }, () => member)] } });
    const crawlId = await start({ sitemap: 'only' }, d);
    await processSitemap(d.queue.maps.shift()!, d);
    const map = d.queue.maps.shift()!;
    expect(await processSitemap(map, d)).toBe('ended');
    expect(d.queue.pages.map((p) => p.url)).toEqual([`${ORIGIN}/before-the-bomb`]);
    // What it came to is kept on its record.
    const record = await createDocumentClient(engines.dynamodb).send(new GetCommand({ TableName: engines.resources.tableName, Key: sitemapKey(crawlId, map) }));
    expect(record.Item).toMatchObject({ state: 'done', outcome: { pages: 1, sitemaps: 0, error: { code: 'TOO_LARGE' } } });
  });

  it('fetches sitemaps through the address guard: a Sitemap line naming the metadata address or loopback is refused, not fetched', async () => {
    const d = deps({ '/robots.txt': { status: 200, body: 'Sitemap: http://169.254.169.254/latest/meta-data/\nSitemap: http://127.0.0.1:8080/sitemap.xml' } });
    const crawlId = await start({ sitemap: 'only' }, d);
    await processSitemap(d.queue.maps.shift()!, d);
    d.fetch = guardedSitemapFetch(DEFAULT_FETCH_LIMITS);
    const maps = d.queue.maps.splice(0);
    expect(maps).toHaveLength(2);
    for (const map of maps) {
      expect(await processSitemap(map, d)).toBe('ended');
      const record = await createDocumentClient(engines.dynamodb).send(new GetCommand({ TableName: engines.resources.tableName, Key: sitemapKey(crawlId, map) }));
      expect(record.Item?.['outcome']).toMatchObject({ pages: 0, error: { code: 'BLOCKED_ADDRESS' } });
    }
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', total: 0 });
  });

  it('a cancelled crawl reads no more sitemaps: its sitemap work ends, from its message or the reconciler, and the crawl gets its completedAt', async () => {
    const d = deps({ '/robots.txt': { status: 200, body: `Sitemap: ${ORIGIN}/one.xml\nSitemap: ${ORIGIN}/two.xml` }, '/one.xml': urlset(['/1']), '/two.xml': urlset(['/2']) });
    const crawlId = await start({ sitemap: 'only' }, d);
    await processSitemap(d.queue.maps.shift()!, d);
    const [one, two] = d.queue.maps.splice(0);
    await store.cancelCrawl(crawlId, new Date().toISOString());
    d.fetched.length = 0;
    expect(await processSitemap(one!, d)).toBe('ended');
    expect(d.fetched).toEqual([]);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'cancelled', total: 0 });
    expect((await store.getCrawl(crawlId))?.completedAt).toBeUndefined();
    // `two`'s message is lost: the reconciler ends a cancelled crawl's sitemap work on its next pass.
    void two;
    const rs = new DynamoReconcileStore(createDocumentClient(engines.dynamodb), engines.resources.tableName);
    const report = await reconcile({ reconcileStore: rs, store, queue: d.queue, backlog: async () => 0, sitemaps: { store: sitemaps, queue: d.queue } }, { afterSeconds: 600, maxRequeues: 1 });
    expect(report.sitemapsEnded).toBeGreaterThanOrEqual(1);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'cancelled', total: 0, completedAt: expect.any(String) });
  });

  it('work of a cancelled crawl back for the slot it reserved releases its host’s queue, as a page does', async () => {
    const d = deps({ '/robots.txt': { status: 200, body: `Sitemap: ${ORIGIN}/one.xml` }, '/one.xml': urlset(['/1']) });
    const crawlId = await start({ sitemap: 'only' }, d);
    await processSitemap(d.queue.maps.shift()!, d);
    const [one] = d.queue.maps.splice(0);
    const t = { db: createDocumentClient(engines.dynamodb), name: engines.resources.tableName };
    const pacer = new DynamoHostPacer(t);
    const host = hostKeyOf(ORIGIN);
    const now = Date.now();
    // Two starts taken, and a slot reserved behind them: the sitemap's.
    for (let i = 0; i < 2; i++) expect(await pacer.claim(host, { now, intervalMs: 1_000 })).toMatchObject({ kind: 'start' });
    const reserved = await pacer.claim(host, { now, intervalMs: 1_000 });
    expect(reserved).toMatchObject({ kind: 'later', held: true });
    await store.cancelCrawl(crawlId, new Date().toISOString());
    const release = (url: string, cancelledAt: number) => pacer.releaseReservations(hostKeyOf(url), cancelledAt);
    expect(await processSitemap({ ...one!, reservation: reserved.at }, { ...d, releaseReservations: release })).toBe('ended');
    const item = (await t.db.send(new GetCommand({ TableName: t.name, Key: hostPaceKey(host) }))).Item!;
    expect(item['tail']).toBe(item['nextStart']);
    expect(item['tail']).toBeLessThan(reserved.at + 1_000);
  });

  it('the reconciler queues lost sitemap work again, and ends it after maxRequeues', async () => {
    const d = deps({ '/sitemap.xml': urlset(['/x']) });
    const crawlId = await start({ sitemap: 'only' }, d);
    d.queue.maps.splice(0); // the submit's message is lost
    const rs = new DynamoReconcileStore(createDocumentClient(engines.dynamodb), engines.resources.tableName);
    const pass = (n: number) =>
      reconcile(
        { reconcileStore: rs, store, queue: d.queue, backlog: async () => 0, sitemaps: { store: sitemaps, queue: d.queue }, now: () => new Date(Date.now() + n * 700_000) },
        { afterSeconds: 600, maxRequeues: 1 },
      );
    const first = await pass(1);
    expect(first.sitemapsRequeued).toBe(1);
    expect(d.queue.maps).toHaveLength(1);
    d.queue.maps.splice(0); // lost again
    const second = await pass(2);
    expect(second.sitemapsEnded).toBeGreaterThanOrEqual(1);
    expect(await store.getCrawl(crawlId)).toMatchObject({ status: 'completed', total: 0 });
  });
});

/** A terminal outcome for a page the test does not fetch. */
const failed = (url: string) => enqueueFailed(url, new Date().toISOString());
