import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import type { Crawl } from '../../functions/core/model/crawl.js';
import { RecordBatcher } from '../../functions/core/crawl/record-batcher.js';
import { EMPTY_PAGE_FIELDS, type Summary } from '../../functions/core/model/summary.js';
import { startEngines, type Engines } from '../support/engines.js';

let engines: Engines;
let store: DynamoCrawlStore;

beforeAll(async () => {
  engines = await startEngines();
  store = engines.store;
});
afterAll(() => engines?.stop());

function crawl(total: number, options: Partial<Crawl['options']> = {}): Crawl {
  return {
    crawlId: ulid(), status: 'running', total, succeeded: 0, failed: 0, createdAt: new Date().toISOString(),
    options: { maxDepth: 0, sameOrigin: true, ...options }, source: { kind: 'api' },
  };
}

function summary(url: string, ok = true, fetchedAt = new Date().toISOString()): Summary {
  return {
    url, finalUrl: url, status: ok ? 200 : 500, ok, contentType: 'text/html', charset: 'UTF-8', ...EMPTY_PAGE_FIELDS,
    title: `t ${url}`, bytes: 10, durationMs: 1, fetchedAt, contentHash: 'h', textHash: ok ? 't' : null,
    ...(ok ? {} : { error: { code: 'HTTP_500', message: 'x' } }),
  };
}

describe('DynamoCrawlStore on DynamoDB Local', () => {
  it('answers the hasPage and latestFor reads of pages starting together from one request, each for its own key', async () => {
    const sent: string[] = [];
    const client = createDocumentClient(engines.dynamodb);
    client.middlewareStack.add((next, context) => (args) => (sent.push(String(context.commandName)), next(args)), { step: 'initialize' });
    const counted = new DynamoCrawlStore({ tableName: engines.resources.tableName, retentionDays: 1, client });
    const c = crawl(2);
    await store.createCrawl(c, []);
    const [done, fresh] = ['https://reads.example/done', 'https://reads.example/fresh'];
    await store.recordPage(c.crawlId, summary(done), 0);
    await store.putLatest(c.crawlId, summary(done), null);
    sent.length = 0;
    // Two pages, each asking both at once (one of them twice, as a redelivery beside its first delivery could).
    const answers = await Promise.all([
      counted.hasPage(c.crawlId, done), counted.latestFor(done), counted.hasPage(c.crawlId, fresh), counted.latestFor(fresh), counted.hasPage(c.crawlId, done),
    ]);
    expect(answers.map((a) => (a && typeof a === 'object' ? a.summary.url : a))).toEqual([true, done, false, null, true]);
    expect(sent).toEqual(['BatchGetItemCommand']);
    // A read alone is a plain GetItem.
    expect(await counted.hasPage(c.crawlId, fresh)).toBe(false);
    expect(sent).toEqual(['BatchGetItemCommand', 'GetItemCommand']);
  });

  it('counts each URL exactly once however often it is recorded, and completes when all are done', async () => {
    const c = crawl(3);
    await store.createCrawl(c, []);
    const urls = ['https://a.example/1', 'https://a.example/2', 'https://a.example/3'];
    // Every URL delivered three times, concurrently, as SQS at-least-once delivery can.
    const outcomes = await Promise.all(urls.flatMap((url, i) => [0, 1, 2].map(() => store.recordPage(c.crawlId, summary(url, i !== 2), 0))));
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(6);
    expect(await store.completeIfDone(c.crawlId, new Date().toISOString())).toBe(true);
    expect(await store.completeIfDone(c.crawlId, new Date().toISOString())).toBe(false);
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ status: 'completed', total: 3, succeeded: 2, failed: 1, completedAt: expect.any(String) });
  });

  it('does not complete while any URL is outstanding', async () => {
    const c = crawl(2);
    await store.createCrawl(c, []);
    await store.recordPage(c.crawlId, summary('https://b.example/1'), 0);
    expect(await store.completeIfDone(c.crawlId, new Date().toISOString())).toBe(false);
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ status: 'running', succeeded: 1 });
    expect(await store.hasPage(c.crawlId, 'https://b.example/1')).toBe(true);
    expect(await store.hasPage(c.crawlId, 'https://b.example/2')).toBe(false);
  });

  it('registers each discovered URL once across concurrent consumers, never past maxPages', async () => {
    const seeds = ['https://c.example/'];
    const c = crawl(1, { maxDepth: 3, maxPages: 150 });
    await store.createCrawl(c, seeds);
    const links = Array.from({ length: 200 }, (_, i) => `https://c.example/p${i}`);
    // Two parents find overlapping link sets at the same time, both including the seed.
    const [a, b] = await Promise.all([
      store.registerLinks(c.crawlId, 'https://c.example/x', [...seeds, ...links.slice(0, 120)], { maxPages: 150, depth: 1, leaseUntil: Date.now() + 60_000 }),
      store.registerLinks(c.crawlId, 'https://c.example/y', [...seeds, ...links.slice(60, 200)], { maxPages: 150, depth: 1, leaseUntil: Date.now() + 60_000 }),
    ]);
    const all = [...a, ...b];
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain(seeds[0]);
    expect(all).toHaveLength(149);
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ total: 150 });
  });

  it('hands a parent back the links it registered on an interrupted earlier try, once its lease has run out', async () => {
    const c = crawl(1, { maxDepth: 1 });
    await store.createCrawl(c, ['https://d.example/']);
    const links = ['https://d.example/a', 'https://d.example/b'];
    const expired = { depth: 1, leaseUntil: Date.now() - 1 };
    const first = await store.registerLinks(c.crawlId, 'https://d.example/', links, expired);
    const again = await store.registerLinks(c.crawlId, 'https://d.example/', links, expired);
    const other = await store.registerLinks(c.crawlId, 'https://d.example/other', ['https://d.example/a'], expired);
    expect(first.sort()).toEqual(links);
    expect(again.sort()).toEqual(first.sort());
    expect(other).toEqual([]);
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ total: 3 });
  });

  it('queues the children once when two deliveries of one parent run at once, and again after a release', async () => {
    const c = crawl(1, { maxDepth: 1 });
    await store.createCrawl(c, ['https://e.example/']);
    const links = Array.from({ length: 30 }, (_, i) => `https://e.example/${i}`);
    // Each delivery holds its lease until its own invocation's deadline.
    const until = Date.now() + 60_000;
    const delivery = (n: number) => ({ depth: 1, leaseUntil: until + n });
    const [a, b] = await Promise.all([
      store.registerLinks(c.crawlId, 'https://e.example/', links, delivery(1)),
      store.registerLinks(c.crawlId, 'https://e.example/', links, delivery(2)),
    ]);
    expect([...a, ...b].sort()).toEqual([...links].sort());
    // A third delivery while the leases hold gets nothing; once a holder lets go (it could not queue them), it does.
    expect(await store.registerLinks(c.crawlId, 'https://e.example/', links, delivery(3))).toEqual([]);
    await store.releaseLinks(c.crawlId, links.slice(0, 5));
    expect((await store.registerLinks(c.crawlId, 'https://e.example/', links, delivery(3))).sort()).toEqual(links.slice(0, 5).sort());
    // A delivery whose own write was retried after it committed finds its lease already its own, and keeps them.
    expect((await store.registerLinks(c.crawlId, 'https://e.example/', links, delivery(3))).sort()).toEqual(links.slice(0, 5).sort());
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ total: 31 });
  });

  it('lists a crawl\'s pages through cursors, each exactly once', async () => {
    const c = crawl(25);
    await store.createCrawl(c, []);
    const urls = Array.from({ length: 25 }, (_, i) => `https://e.example/${i}`);
    await Promise.all(urls.map((url) => store.recordPage(c.crawlId, summary(url), 0)));
    const seen: string[] = [];
    let cursor: string | undefined;
    let calls = 0;
    do {
      const page = await store.listPages(c.crawlId, 7, cursor);
      seen.push(...page.items.map((s) => s.url));
      for (const item of page.items) expect(Object.keys(item)).not.toContain('PK');
      cursor = page.cursor ?? undefined;
      calls++;
    } while (cursor && calls < 10);
    expect(seen.sort()).toEqual([...urls].sort());
    expect(calls).toBeLessThanOrEqual(5);
  });

  it('rejects a cursor it did not issue with INVALID_CURSOR', async () => {
    const c = crawl(1);
    await store.createCrawl(c, []);
    for (const bad of ['garbage', 'eyJ2IjoxLCJzayI6IiNNRVRBIn0', Buffer.from('{"v":1,"sk":"SEEN#x"}').toString('base64url'), '%%%']) {
      await expect(store.listPages(c.crawlId, 10, bad)).rejects.toMatchObject({ kind: 'invalid', code: 'INVALID_CURSOR' });
    }
  });

  it("refuses a cursor of another crawl's pages, or of the crawls listing, with INVALID_CURSOR", async () => {
    const [a, b] = [crawl(2), crawl(2)];
    for (const c of [a, b]) {
      await store.createCrawl(c, []);
      for (const url of ['https://h.example/1', 'https://h.example/2']) await store.recordPage(c.crawlId, summary(url), 0);
    }
    const first = await store.listPages(a.crawlId, 1);
    expect((await store.listPages(a.crawlId, 1, first.cursor!)).items).toHaveLength(1);
    await expect(store.listPages(b.crawlId, 1, first.cursor!)).rejects.toMatchObject({ kind: 'invalid', code: 'INVALID_CURSOR' });
    await expect(store.listCrawls({ limit: 1, cursor: first.cursor! })).rejects.toMatchObject({ kind: 'invalid', code: 'INVALID_CURSOR' });
    const crawls = await store.listCrawls({ limit: 1 });
    await expect(store.listPages(a.crawlId, 1, crawls.cursor!)).rejects.toMatchObject({ kind: 'invalid', code: 'INVALID_CURSOR' });
  });

  it('goes on from a pages cursor issued before cursors named their crawl (the sort key alone), as from the one issued now', async () => {
    const a = crawl(3);
    await store.createCrawl(a, []);
    for (const url of ['https://h.example/1', 'https://h.example/2', 'https://h.example/3']) await store.recordPage(a.crawlId, summary(url), 0);
    const first = await store.listPages(a.crawlId, 1);
    const { sk } = JSON.parse(Buffer.from(first.cursor!, 'base64url').toString('utf8')) as { sk: string };
    const older = Buffer.from(JSON.stringify({ v: 1, sk })).toString('base64url');
    expect((await store.listPages(a.crawlId, 2, older)).items).toEqual((await store.listPages(a.crawlId, 2, first.cursor!)).items);
  });

  it('keeps the newest summary per URL, even when an older one arrives later', async () => {
    const url = 'https://f.example/';
    await store.putLatest('C1', summary(url, true, '2026-01-02T00:00:00.000Z'), null);
    await store.putLatest('C0', { ...summary(url, true, '2026-01-01T00:00:00.000Z'), title: 'old' }, null);
    expect(await store.getLatest(url)).toMatchObject({ fetchedAt: '2026-01-02T00:00:00.000Z', title: `t ${url}` });
    expect(await store.getLatest('https://never.example/')).toBeNull();
  });

  it('stores URLs longer than a DynamoDB sort key allows', async () => {
    const c = crawl(1);
    await store.createCrawl(c, []);
    const url = `https://g.example/${'x'.repeat(2_000)}`;
    expect(await store.recordPage(c.crawlId, summary(url), 0)).toBe('recorded');
    expect((await store.listPages(c.crawlId, 10)).items[0]?.url).toBe(url);
  });

  it('records many pages in few transactions, each exactly once, duplicates (within and across calls) included', async () => {
    const c = crawl(250);
    await store.createCrawl(c, []);
    const urls = Array.from({ length: 250 }, (_, i) => `https://batch.example/${i}`);
    const first = await store.recordPages(c.crawlId, [
      ...urls.slice(0, 150).map((url, i) => ({ summary: summary(url, i % 5 !== 0), depth: 0 })),
      { summary: summary(urls[3]!), depth: 0 },
    ]);
    expect(first.filter((o) => o === 'recorded')).toHaveLength(150);
    expect(first.at(-1)).toBe('duplicate');
    // An overlapping second call (a redelivery racing a batch): only the new ones count.
    const second = await store.recordPages(c.crawlId, urls.slice(100).map((url, i) => ({ summary: summary(url, (i + 100) % 5 !== 0), depth: 1 })));
    expect(second.filter((o) => o === 'recorded')).toHaveLength(100);
    expect(second.slice(0, 50).every((o) => o === 'duplicate')).toBe(true);
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ total: 250, succeeded: 200, failed: 50 });
    expect(await store.completeIfDone(c.crawlId, new Date().toISOString())).toBe(true);
  });

  it('shares transactions between pages that finish together (RecordBatcher), each caller getting its own outcome', async () => {
    const c = crawl(40);
    await store.createCrawl(c, []);
    let calls = 0;
    const counting = { recordPages: (id: string, entries: readonly { summary: Summary; depth: number }[]) => (calls++, store.recordPages(id, entries)) };
    const batcher = new RecordBatcher(counting, 20);
    const urls = Array.from({ length: 40 }, (_, i) => `https://batcher.example/${i % 30}`);
    const outcomes = await Promise.all(urls.map((url) => batcher.recordPage(c.crawlId, summary(url), 0)));
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(30);
    expect(calls).toBe(1);
    expect(await store.getCrawl(c.crawlId)).toMatchObject({ succeeded: 30 });
    await expect(batcher.recordPage('no-such-crawl', summary('https://x.example/'), 0)).rejects.toThrow(/does not exist/);
  });
});

describe('crawl listings on DynamoDB Local', () => {
  /** A crawl started at `at` (its id's time too, as ids are made), by the API or by a schedule. */
  async function started(at: Date, source: Crawl['source'], name?: string, on: DynamoCrawlStore = store): Promise<string> {
    const c: Crawl = { ...crawl(1), crawlId: ulid(at.getTime()), createdAt: at.toISOString(), source, ...(name ? { name } : {}) };
    expect(await on.createCrawl(c, ['https://list.example/'])).toBe('created');
    return c.crawlId;
  }

  async function all(query: { schedule?: string; limit: number }, on: DynamoCrawlStore = store): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await on.listCrawls({ ...query, cursor });
      pages++;
      ids.push(...page.items.map((c) => c.crawlId));
      cursor = page.cursor ?? undefined;
    } while (cursor && pages < 1000);
    return { ids, pages };
  }

  it('lists every crawl newest first across months (back to the oldest the retention keeps), through cursors, each once', async () => {
    // A store keeping items 60 days: last month's crawls are still listed (the engines' store keeps them a day).
    const keeping = new DynamoCrawlStore({ tableName: engines.resources.tableName, retentionDays: 60, client: createDocumentClient(engines.dynamodb) });
    const now = Date.now();
    const lastMonth = new Date(now - 40 * 24 * 3600 * 1000);
    const ids = [await started(lastMonth, { kind: 'api' }, 'old one', keeping)];
    for (let i = 4; i >= 0; i--) ids.push(await started(new Date(now - i * 1000), { kind: 'api' }, undefined, keeping));
    // Other tests' crawls are listed too: a small page still crosses several, and the month boundary.
    const { ids: listed } = await all({ limit: 7 }, keeping);
    const mine = listed.filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
    expect(new Set(listed).size).toBe(listed.length);
    const first = await keeping.listCrawls({ limit: 1000 });
    expect(first.items.find((c) => c.crawlId === ids[0])).toMatchObject({ name: 'old one', status: 'running', total: 1 });
  });

  it("lists one schedule's runs alone, newest first", async () => {
    const now = Date.now();
    const nightly = [0, 1, 2].map((i) => new Date(now - (10 - i) * 60_000));
    const runs: string[] = [];
    for (const at of nightly) runs.push(await started(at, { kind: 'schedule', name: 'nightly-list' }));
    await started(new Date(now - 5 * 60_000), { kind: 'schedule', name: 'hourly-list' });
    await started(new Date(now - 4 * 60_000), { kind: 'api' });
    const { ids, pages } = await all({ schedule: 'nightly-list', limit: 2 });
    expect(ids).toEqual([...runs].reverse());
    expect(pages).toBe(2);
    expect((await store.listCrawls({ limit: 10, schedule: 'never-ran' })).items).toEqual([]);
  });

  it("refuses a cursor it did not issue, or one of another listing, with INVALID_CURSOR", async () => {
    const now = Date.now();
    for (let i = 0; i < 2; i++) await started(new Date(now - i), { kind: 'schedule', name: 'cursor-a' });
    const page = await store.listCrawls({ limit: 1, schedule: 'cursor-a' });
    expect(page.cursor).not.toBeNull();
    await expect(store.listCrawls({ limit: 1, schedule: 'cursor-b', cursor: page.cursor! })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    await expect(store.listCrawls({ limit: 1, cursor: page.cursor! })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    await expect(store.listCrawls({ limit: 1, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    // A month no crawl of the table can be in (years ahead): refused, not walked back month by month.
    const future = Buffer.from(JSON.stringify({ v: 1, pk: 'CRAWLS#9999-12', sk: page.items[0]!.crawlId })).toString('base64url');
    await expect(store.listCrawls({ limit: 1, cursor: future })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });
});
