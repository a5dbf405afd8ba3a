import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

/**
 * Sitemap seeding through the local stack (API → SQS → consumer → DynamoDB Local), on loopback sites whose pages are
 * listed only in their sitemaps: `/p/0` … `/p/49` each link to `/linked/N`, which no sitemap lists, and the home page
 * links nowhere. The 50 pages come through three sitemaps behind a sitemap index: one plain XML served with
 * Content-Encoding gzip, one a .xml.gz file, one a text sitemap. Site A names its index in robots.txt; site B has no
 * robots.txt, so its /sitemap.xml is read. Both also list URLs the crawl must not take: another origin's, an image's,
 * a nonsense one, a relative one. Site A's text sitemap also lists its home page.
 */
interface Site extends LoopbackServer {
  hits: Map<string, number>;
  /** The User-Agent of the last request to each path. */
  agents: Map<string, string>;
}

const PAGES = Array.from({ length: 50 }, (_, n) => `/p/${n}`);

async function startSitemapSite(options: { robots: boolean }): Promise<Site> {
  const hits = new Map<string, number>();
  const agents = new Map<string, string>();
  let base = '';
  const urlset = (paths: string[]) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n` +
    paths.map((p) => `  <url><loc>${base}${p}</loc><image:image><image:loc>${base}/img${p}.png</image:loc></image:image></url>\n`).join('') +
    `  <url><loc>http://other.invalid/p/1</loc></url>\n</urlset>`;
  const server = await startLoopbackServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    agents.set(path, req.headers['user-agent'] ?? '');
    const index = options.robots ? '/maps/index.xml' : '/sitemap.xml';
    if (path === '/robots.txt') {
      if (!options.robots) return void res.writeHead(404).end();
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`User-agent: *\nDisallow: /private/\n\nSitemap: ${base}${index}\nSitemap: ${base}/private/map.xml\n`);
    }
    if (path === index) {
      const maps = ['/maps/a.xml', '/maps/b.xml.gz', '/maps/c.txt'];
      return void res
        .writeHead(200, { 'content-type': 'application/xml' })
        .end(`<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${maps.map((m) => `<sitemap><loc>${base}${m}</loc></sitemap>`).join('')}</sitemapindex>`);
    }
    if (path === '/private/map.xml') return void res.writeHead(200, { 'content-type': 'application/xml' }).end(urlset(['/private/page']));
    if (path === '/maps/a.xml') return void res.writeHead(200, { 'content-type': 'application/xml', 'content-encoding': 'gzip' }).end(gzipSync(urlset(PAGES.slice(0, 25))));
    if (path === '/maps/b.xml.gz') return void res.writeHead(200, { 'content-type': 'application/x-gzip' }).end(gzipSync(urlset(PAGES.slice(25, 49))));
    if (path === '/maps/c.txt') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`${base}${PAGES[49]}\nnot a url\n/p/relative\n${options.robots ? `${base}/\n` : ''}`);
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<title>home</title><p>no links here</p>');
    const m = /^\/(p|linked)\/(\d+)$/.exec(path);
    if (m) return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>${m[1]} ${m[2]}</title><a href="/linked/${m[2]}">more</a>`);
    res.writeHead(404, { 'content-type': 'text/html' }).end('<title>Not found</title>');
  });
  base = server.url;
  return Object.assign(server, { hits, agents });
}

let stack: LocalStack;
let api: string;
let a: Site;
let b: Site;

beforeAll(async () => {
  // The loopback sites are private by definition; the guard is lifted the only way the contract allows.
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  [a, b] = await Promise.all([startSitemapSite({ robots: true }), startSitemapSite({ robots: false })]);
  stack = await startLocalStack({ config: parseCrawlerConfig({}), port: 0 });
  api = stack.apiUrl;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await Promise.all([a?.close(), b?.close()]);
});

async function crawl(request: Record<string, unknown>) {
  const submit = await call(api, 'POST', '/crawls', { hostDelayMs: 0, ...request });
  expect(submit.status, JSON.stringify(submit.body)).toBe(202);
  const done = await waitForCompletion(api, submit.body.crawlId);
  const items = await allPages(api, submit.body.crawlId, 100);
  return { done, items, paths: (site: Site) => items.filter((s) => s.url.startsWith(`${site.url}/`)).map((s) => new URL(s.url).pathname).sort() };
}

const sorted = (paths: string[]) => [...paths].sort();

describe('sitemaps, end to end through the local stack', () => {
  it('"include": the seed and every page its origin’s sitemaps list (robots.txt’s index: gzip, .xml.gz, text), at depth 0', async () => {
    const { done, items, paths } = await crawl({ urls: [`${a.url}/`], sitemap: 'include' });
    expect(done).toMatchObject({ status: 'completed', total: 51, succeeded: 51, failed: 0 });
    expect(paths(a)).toEqual(sorted(['/', ...PAGES]));
    expect(items.every((s) => s.ok)).toBe(true);
    // Each sitemap was read once, and no page twice.
    for (const path of ['/maps/index.xml', '/maps/a.xml', '/maps/b.xml.gz', '/maps/c.txt']) expect(a.hits.get(path), path).toBe(1);
    for (const path of PAGES) expect(a.hits.get(path), path).toBe(1);
    expect(a.hits.get('/sitemap.xml')).toBeUndefined();
    // Fetched politely: a sitemap robots.txt disallows is not fetched, and robots.txt once for everything.
    expect(a.hits.get('/private/map.xml')).toBeUndefined();
    expect(a.hits.get('/robots.txt')).toBe(1);
    for (const path of ['/robots.txt', '/maps/index.xml', '/maps/b.xml.gz']) expect(a.agents.get(path), path).toMatch(/^serverless-crawler\/\d/);
  });

  it('"include" follows links from sitemap pages as from seeds (maxDepth 1)', async () => {
    const { done, paths } = await crawl({ urls: [`${b.url}/`], sitemap: 'include', maxDepth: 1 });
    expect(done).toMatchObject({ status: 'completed', total: 101, succeeded: 101, failed: 0 });
    expect(paths(b)).toEqual(sorted(['/', ...PAGES, ...PAGES.map((p) => p.replace('/p/', '/linked/'))]));
  });

  it('"only": exactly the sitemaps’ pages (the seed is not one), no link followed whatever maxDepth says; /sitemap.xml when robots.txt names none', async () => {
    const before = b.hits.get('/') ?? 0;
    const { done, paths } = await crawl({ urls: [`${b.url}/`, `${b.url}/p/3`], sitemap: 'only', maxDepth: 3 });
    expect(done).toMatchObject({ status: 'completed', total: 50, succeeded: 50, failed: 0 });
    expect(paths(b)).toEqual(sorted(PAGES));
    expect(b.hits.get('/') ?? 0).toBe(before);
  });

  it('"only" over two origins: each origin’s own sitemaps (a seed a sitemap lists is crawled as one of its pages)', async () => {
    const { done, paths } = await crawl({ urls: [`${a.url}/p/7`, `${b.url}/`], sitemap: 'only' });
    expect(done).toMatchObject({ status: 'completed', total: 101, succeeded: 101, failed: 0 });
    expect(paths(a)).toEqual(sorted(['/', ...PAGES]));
    expect(paths(b)).toEqual(sorted(PAGES));
  });

  it('maxPages bounds what sitemaps add (seeds always count)', async () => {
    const { done, items } = await crawl({ urls: [`${a.url}/`], sitemap: 'include', maxPages: 10 });
    expect(done).toMatchObject({ status: 'completed', total: 10, succeeded: 10, failed: 0 });
    expect(items.map((s) => new URL(s.url).pathname)).toContain('/');
    const only = await crawl({ urls: [`${b.url}/`], sitemap: 'only', maxPages: 7 });
    expect(only.done).toMatchObject({ status: 'completed', total: 7, succeeded: 7, failed: 0 });
    expect(only.items.every((s) => /^\/p\/\d+$/.test(new URL(s.url).pathname))).toBe(true);
  });

  it('include/exclude patterns bound sitemap entries (seeds are never filtered)', async () => {
    const { done, paths } = await crawl({ urls: [`${a.url}/`], sitemap: 'include', include: ['**/p/1*'], exclude: ['**/p/13'] });
    const kept = ['/p/1', '/p/10', '/p/11', '/p/12', '/p/14', '/p/15', '/p/16', '/p/17', '/p/18', '/p/19'];
    expect(done).toMatchObject({ status: 'completed', total: 11, succeeded: 11, failed: 0 });
    expect(paths(a)).toEqual(sorted(['/', ...kept]));
    // `?` is a literal character in a pattern, as every character but `*` is.
    const only = await crawl({ urls: [`${b.url}/`], sitemap: 'only', include: ['**/p/4*', '**/p/2?'] });
    expect(only.done).toMatchObject({ status: 'completed', total: 11 });
    expect(only.paths(b)).toEqual(sorted(['/p/4', ...Array.from({ length: 10 }, (_, n) => `/p/4${n}`)]));
  });

  it('a site without sitemaps: "only" completes empty, "include" crawls the seeds', async () => {
    const bare = await startLoopbackServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<title>nothing</title>'));
    try {
      const only = await crawl({ urls: [`${bare.url}/`], sitemap: 'only' });
      expect(only.done).toMatchObject({ status: 'completed', total: 0, succeeded: 0, failed: 0 });
      const include = await crawl({ urls: [`${bare.url}/x`], sitemap: 'include' });
      expect(include.done).toMatchObject({ status: 'completed', total: 1, succeeded: 0, failed: 1 });
    } finally {
      await bare.close();
    }
  });

  it('"skip" (the default) reads no sitemap', async () => {
    const hits = a.hits.get('/robots.txt') ?? 0;
    const indexHits = a.hits.get('/maps/index.xml') ?? 0;
    const { done } = await crawl({ urls: [`${a.url}/p/1`] });
    expect(done).toMatchObject({ status: 'completed', total: 1 });
    expect(a.hits.get('/maps/index.xml') ?? 0).toBe(indexHits);
    // robots.txt is read once per origin for every crawl, pages and sitemaps alike (the politeness cache).
    expect(hits).toBe(1);
    expect(a.hits.get('/robots.txt')).toBe(1);
    expect(b.hits.get('/robots.txt')).toBe(1);
  });

  it('paces sitemap requests with the pages: every request to the host at least hostDelayMs apart', async () => {
    const starts: { path: string; at: number }[] = [];
    const paced = await startLoopbackServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      starts.push({ path, at: performance.now() });
      if (path === '/sitemap.xml') {
        const locs = Array.from({ length: 6 }, (_, n) => `<url><loc>${paced.url}/p/${n}</loc></url>`).join('');
        return void res.writeHead(200, { 'content-type': 'application/xml' }).end(`<urlset>${locs}</urlset>`);
      }
      if (path.startsWith('/p/')) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<title>p</title>');
      res.writeHead(404).end();
    });
    try {
      const hostDelayMs = 300;
      const { done } = await crawl({ urls: [`${paced.url}/`], sitemap: 'only', hostDelayMs });
      expect(done).toMatchObject({ status: 'completed', total: 6, succeeded: 6 });
      expect(starts.map((s) => s.path).slice(0, 2)).toEqual(['/robots.txt', '/sitemap.xml']);
      expect(starts).toHaveLength(8);
      // Measured where the requests arrive, so a few ms of loopback jitter either way.
      const gaps = starts.slice(1).map((s, i) => s.at - starts[i]!.at);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(hostDelayMs - 20);
    } finally {
      await paced.close();
    }
  });

  it('refuses a sitemap mode it does not know', async () => {
    const res = await call(api, 'POST', '/crawls', { urls: [`${a.url}/`], sitemap: 'all' });
    expect([res.status, res.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
  });
});
