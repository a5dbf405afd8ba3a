import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { processPage } from '../../functions/core/crawl/process-page.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { Summary } from '../../functions/core/model/summary.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { startEngines, type Engines } from '../support/engines.js';
import { purgeQueues } from '../support/polite-consumers.js';

// Change detection on the real engines: two crawls of a site whose pages change between them in each of the ways a
// monitor cares about, or in ways it must not (markup, scripts, comments, attributes, whitespace).

let engines: Engines;
let site: LoopbackServer;
/** Which version of each page the site serves now. */
let version: 'before' | 'after' = 'before';

const page = (body: string, title = 'Prices') => `<!doctype html><html><head><title>${title}</title></head><body>${body}</body></html>`;

/** Each path: the page before, and after. */
const PAGES: Record<string, { before: string; after: string; expected: { change: string; changedFields: string[] } }> = {
  '/nonce': {
    before: page('<p>Plan A costs $19.</p><form><input type="hidden" name="csrf" value="a1b2"></form>'),
    after: page('<p>Plan A costs $19.</p><form><input type="hidden" name="csrf" value="z9y8"></form>'),
    expected: { change: 'same', changedFields: [] },
  },
  '/script-time': {
    before: page('<p>Hello</p><script>window.renderedAt = "2026-11-29T00:00:00Z"</script>'),
    after: page('<p>Hello</p><script>window.renderedAt = "2026-11-30T00:00:00Z"</script>'),
    expected: { change: 'same', changedFields: [] },
  },
  '/comment': {
    before: page('<p>Hello</p><!-- build 1 -->'),
    after: page('<p>Hello</p><!-- build 2 -->'),
    expected: { change: 'same', changedFields: [] },
  },
  '/attribute': {
    before: page('<p class="a">Hello</p>'),
    after: page('<p class="b" data-x="1">Hello</p>'),
    expected: { change: 'same', changedFields: [] },
  },
  '/whitespace': {
    before: page('<p>Hello   world</p>\n\n<p>again</p>'),
    after: page('<p>Hello world</p> <p>again</p>'),
    expected: { change: 'same', changedFields: [] },
  },
  '/word': {
    before: page('<p>Plan A costs $19.</p>'),
    after: page('<p>Plan A costs $91.</p>'),
    expected: { change: 'changed', changedFields: ['text'] },
  },
  '/swapped': {
    before: page('<p>First paragraph.</p><p>Second paragraph.</p>'),
    after: page('<p>Second paragraph.</p><p>First paragraph.</p>'),
    expected: { change: 'changed', changedFields: ['text'] },
  },
  '/new-link': {
    before: page('<p>Docs</p>'),
    after: page('<p>Docs</p><a href="/more"></a>'),
    expected: { change: 'changed', changedFields: ['links'] },
  },
  '/title': {
    before: page('<p>Same body</p>', 'Old title'),
    after: page('<p>Same body</p>', 'New title'),
    expected: { change: 'changed', changedFields: ['title'] },
  },
  '/gone': {
    before: page('<p>Here</p>'),
    after: '',
    expected: { change: 'changed', changedFields: ['status', 'ok', 'title', 'text'] },
  },
};

beforeAll(async () => {
  engines = await startEngines();
  site = await startLoopbackServer((req, res) => {
    const entry = PAGES[new URL(req.url!, 'http://x').pathname];
    const html = entry?.[version];
    if (!html) return void res.writeHead(404, { 'content-type': 'text/html' }).end('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
});
afterAll(async () => {
  await purgeQueues(engines);
  await site?.close();
  await engines?.stop();
});

/** One crawl of every page, each delivered once (and `redeliver` of them twice), returning the recorded summaries by path. */
async function crawlAll(redeliver: readonly string[] = []): Promise<{ crawlId: string; pages: Record<string, Summary> }> {
  const crawlId = ulid();
  const urls = Object.keys(PAGES).map((path) => `${site.url}${path}`);
  await engines.store.createCrawl(
    { crawlId, status: 'running', total: urls.length, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options: { maxDepth: 0, sameOrigin: true }, source: { kind: 'api' } },
    urls,
  );
  const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
  const deps = { store: engines.store, queue, limits: { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true } };
  for (const url of urls) await processPage({ crawlId, url, depth: 0, maxDepth: 0, sameOrigin: true }, deps);
  const items = (await engines.store.listPages(crawlId, 100)).items;
  return { crawlId, pages: Object.fromEntries(items.map((s) => [new URL(s.url).pathname, s])) };
}

describe('change detection against the latest earlier summary of each URL', () => {
  it('marks exactly the pages that changed, with the fields that did, and points at the earlier summary', async () => {
    version = 'before';
    const first = await crawlAll();
    for (const summary of Object.values(first.pages)) expect(summary).toMatchObject({ change: 'new', changedFields: [], previous: null, depth: 0 });

    version = 'after';
    const second = await crawlAll();
    for (const [path, { expected }] of Object.entries(PAGES)) {
      const summary = second.pages[path]!;
      expect({ path, change: summary.change, changedFields: summary.changedFields }).toEqual({ path, ...expected });
      expect(summary.previous).toEqual({ crawlId: first.crawlId, fetchedAt: first.pages[path]!.fetchedAt, contentHash: first.pages[path]!.contentHash });
    }

    // ?change=changed lists exactly those, through the store's filter.
    const changed = (await engines.store.listPages(second.crawlId, 3, undefined, 'changed')).items.map((s) => new URL(s.url).pathname);
    const expectedChanged = Object.entries(PAGES).filter(([, p]) => p.expected.change === 'changed').map(([path]) => path);
    let all = [...changed];
    let cursor = (await engines.store.listPages(second.crawlId, 3, undefined, 'changed')).cursor;
    while (cursor) {
      const next = await engines.store.listPages(second.crawlId, 3, cursor, 'changed');
      all = [...all, ...next.items.map((s) => new URL(s.url).pathname)];
      cursor = next.cursor;
    }
    expect(all.sort()).toEqual(expectedChanged.sort());

    // The URL's latest summary (GET /pages) is the second crawl's, with its change.
    expect(await engines.store.getLatest(`${site.url}/word`)).toMatchObject({ change: 'changed', changedFields: ['text'], depth: 0 });
  });

  it('compares a page delivered twice in one crawl with the earlier crawl, not with its own first delivery', async () => {
    version = 'before';
    await crawlAll();
    version = 'after';
    const crawlId = ulid();
    const url = `${site.url}/word`;
    await engines.store.createCrawl(
      { crawlId, status: 'running', total: 1, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options: { maxDepth: 0, sameOrigin: true }, source: { kind: 'api' } },
      [url],
    );
    const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
    // The first delivery writes the URL's latest summary and dies before recording the page.
    const store = engines.store;
    const dying = new Proxy(store, {
      get: (target, name) => (name === 'recordPage' ? () => Promise.reject(new Error('died')) : Reflect.get(target, name, target)),
    });
    await expect(processPage({ crawlId, url, depth: 0, maxDepth: 0, sameOrigin: true }, { store: dying, queue, limits }, 1)).rejects.toThrow();
    expect(await processPage({ crawlId, url, depth: 0, maxDepth: 0, sameOrigin: true }, { store: engines.store, queue, limits }, 2)).toBe('recorded');
    const [recorded] = (await engines.store.listPages(crawlId, 10)).items;
    expect(recorded).toMatchObject({ change: 'changed', changedFields: ['text'] });
  });
});
