import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { runCrawler } from '../support/processes.js';

/**
 * Scope through the local stack (API → SQS → consumer → DynamoDB Local): include/exclude patterns on discovered links,
 * seeds never filtered, `<meta name=robots content=nofollow|none>`, and `crawler submit`'s options for them.
 * Each path's links, and a page's head when it has one; every other path answers a page without links.
 */
const SITE: Record<string, { links: string[]; head?: string }> = {
  '/': {
    links: [
      '/blog/1', '/blog/2', '/blog/2?utm_source=x', '/blog/file.pdf', '/docs/a', '/docs/a/b', '/shop/x', '/nofollow', '/none',
      '/blog/%5Bdraft%5D', '/blog/[draft]', '/blog/a+b',
    ],
  },
  '/blog/1': { links: ['/blog/3', '/shop/y', '/'] },
  '/blog/3': { links: ['/blog/4'] },
  '/nofollow': { head: '<meta name="robots" content="noindex, NOFOLLOW">', links: ['/blog/hidden-1', '/docs/hidden-1'] },
  '/none': { head: '<meta name=ROBOTS content=none>', links: ['/blog/hidden-2'] },
  '/shop/x': { links: ['/blog/1', '/shop/y', '/docs/z'] },
  '/robots-index': { head: '<meta name="robots" content="noindex"><meta name="description" content="follow me">', links: ['/blog/1'] },
};

let stack: LocalStack;
let site: LoopbackServer;
let api: string;
const hits = new Map<string, number>();

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  site = await startLoopbackServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const key = url.pathname + url.search;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    const page = SITE[url.pathname] ?? { links: [] };
    const links = page.links.map((href) => `<a href="${href}">${href}</a>`).join('\n');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><head><title>${key}</title>${page.head ?? ''}</head><body>${links}</body>`);
  });
  stack = await startLocalStack({ config: parseCrawlerConfig({}), port: 0 });
  api = stack.apiUrl;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await site?.close();
});

/** What this file's crawls leave to the tests: no robots.txt, no pacing (a loopback site of our own). */
const FAST = { robotsTxt: 'ignore', hostDelayMs: 0 } as const;

async function crawledPaths(request: Record<string, unknown>): Promise<string[]> {
  const submit = await call(api, 'POST', '/crawls', { ...FAST, ...request });
  expect(submit.status, JSON.stringify(submit.body)).toBe(202);
  const done = await waitForCompletion(api, submit.body.crawlId);
  const items = await allPages(api, submit.body.crawlId);
  expect(done).toMatchObject({ status: 'completed', total: items.length, failed: 0 });
  return items.map((s) => s.url.slice(site.url.length)).sort();
}

describe('include/exclude and <meta name=robots> through the local stack', () => {
  it('follows only discovered links that match an include and no exclude; nofollow and none pages add nothing', async () => {
    const paths = await crawledPaths({
      urls: [`${site.url}/`],
      maxDepth: 3,
      include: ['**/blog/**', `${site.url}/docs/*`, '**/nofollow', '**/none', '**/[draft]'],
      exclude: ['**?*', '**.pdf', '**/blog/4'],
    });
    expect(paths).toEqual([
      '/',
      '/blog/%5Bdraft%5D',
      '/blog/1',
      '/blog/2',
      '/blog/3',
      '/blog/[draft]', // `[` is literal: `**/[draft]` matches this one (the URL keeps `[` as written), not %5B
      '/blog/a+b',
      '/docs/a',
      '/none',
      '/nofollow',
    ].sort());
    // Never requested: excluded, outside every include, or linked only from a nofollow/none page.
    for (const path of ['/blog/2?utm_source=x', '/blog/file.pdf', '/docs/a/b', '/shop/x', '/shop/y', '/blog/4', '/blog/hidden-1', '/docs/hidden-1', '/blog/hidden-2']) {
      expect(hits.get(path) ?? 0, path).toBe(0);
    }
  });

  it('never filters seeds: a seed outside the patterns is crawled, and only its matching links followed', async () => {
    const paths = await crawledPaths({ urls: [`${site.url}/shop/x`, `${site.url}/blog/file.pdf`], maxDepth: 1, include: ['**/blog/**'], exclude: ['**.pdf'] });
    expect(paths).toEqual(['/blog/1', '/blog/file.pdf', '/shop/x']);
  });

  it('follows no link of a nofollow page even without patterns, and the links of a noindex-only page', async () => {
    expect(await crawledPaths({ urls: [`${site.url}/nofollow`, `${site.url}/none`], maxDepth: 2 })).toEqual(['/nofollow', '/none']);
    expect(await crawledPaths({ urls: [`${site.url}/robots-index`], maxDepth: 1 })).toEqual(['/blog/1', '/robots-index']);
    const page = await call(api, 'GET', `/pages?url=${encodeURIComponent(`${site.url}/nofollow`)}`);
    // `links` still counts the page's a[href] elements.
    expect(page.body).toMatchObject({ ok: true, links: 2 });
  });

  it('refuses a pattern that can never match, naming it, and too many or too long patterns', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ include: ['**/blog/**', '**/caf\u00e9/**'] }, /include\.1: "\*\*\/café\/\*\*" can never match/],
      [{ exclude: ['**/a b'] }, /exclude\.0: "\*\*\/a b" can never match: it holds a space/],
      [{ exclude: ['**#top'] }, /exclude\.0: .*"#"/],
      [{ include: [''] }, /include\.0/],
      [{ include: Array.from({ length: 101 }, (_, i) => `**/${i}`) }, /include/],
      [{ exclude: [`**/${'x'.repeat(500)}`] }, /exclude\.0/],
    ];
    for (const [fields, message] of cases) {
      const res = await call(api, 'POST', '/crawls', { urls: [`${site.url}/`], ...fields });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
      expect(res.body.error.message).toMatch(message);
    }
  });
});

describe('crawler submit: --include, --exclude, --sitemap, --ignore-robots, --host-delay', () => {
  it('sends them as the request fields, and the crawl keeps to the patterns', async () => {
    const { code, stdout, stderr } = await runCrawler([
      'submit', '--wait', '--format', 'json', '--endpoint', api, '--max-depth', '2',
      '--include', '**/blog/*', '--include', '**/nofollow', '--exclude', '**?*', '--exclude', '**/blog/3',
      '--sitemap', 'skip', '--ignore-robots', '--host-delay', '0', `${site.url}/`,
    ]);
    expect(code, stderr).toBe(0);
    const paths = stdout.trim().split('\n').map((line) => (JSON.parse(line) as { url: string }).url.slice(site.url.length)).sort();
    expect(paths).toEqual(['/', '/blog/%5Bdraft%5D', '/blog/1', '/blog/2', '/blog/[draft]', '/blog/a+b', '/blog/file.pdf', '/nofollow'].sort());
  });

  it('puts each option in the request body as the contract names its field', async () => {
    const bodies: unknown[] = [];
    const capture = await startLoopbackServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ crawlId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', accepted: 1, rejected: [], statusUrl: 'x' }));
    });
    try {
      const args = ['--include', '**/a/**', '--exclude', '**?*', '--include', 'https://example.com/[b]', '--sitemap', 'include', '--ignore-robots', '--host-delay', '250'];
      const run = await runCrawler(['submit', '--json', '--endpoint', capture.url, ...args, 'https://example.com/']);
      expect([run.code, run.stderr]).toEqual([0, '']);
      const plain = await runCrawler(['submit', '--json', '--endpoint', capture.url, '--host-delay', '0', '--sitemap', 'only', 'https://example.com/']);
      expect(plain.code).toBe(0);
      expect(bodies).toEqual([
        { urls: ['https://example.com/'], include: ['**/a/**', 'https://example.com/[b]'], exclude: ['**?*'], sitemap: 'include', robotsTxt: 'ignore', hostDelayMs: 250 },
        { urls: ['https://example.com/'], sitemap: 'only', hostDelayMs: 0 },
      ]);
    } finally {
      await capture.close();
    }
  });

  it('refuses bad values with exit 2 and a message naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['--host-delay=-5'], /--host-delay is a whole number of milliseconds from 0 to 60000, not "-5"/],
      [['--host-delay', '-5'], /--host-delay/],
      [['--host-delay', '60001'], /--host-delay .* not "60001"/],
      [['--host-delay', '1.5'], /--host-delay .* not "1.5"/],
      [['--host-delay', 'soon'], /--host-delay .* not "soon"/],
      [['--sitemap', 'all'], /--sitemap is skip, include or only, not "all"/],
      [['--include', ''], /--include needs a pattern/],
      [['--exclude', '**/a b'], /--exclude "\*\*\/a b" can never match: it holds a space/],
      [['--ignore-robots=yes'], /--ignore-robots/],
      [['--host-delay'], /--host-delay/],
    ];
    for (const [args, message] of cases) {
      const run = await runCrawler(['submit', '--endpoint', api, ...args, `${site.url}/`]);
      expect([args, run.code]).toEqual([args, 2]);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  it('passes what only the deployment refuses through as an API error (exit 1), naming the field', async () => {
    // The request's own limits (101 patterns…) are bad usage before any request (cli.test.ts); this deployment's
    // maxPagesPerCrawl (10,000) only the API knows.
    const run = await runCrawler(['submit', '--endpoint', api, '--max-pages', '20000', `${site.url}/`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/INVALID_REQUEST: maxPages: at most 10000 in this deployment/);
  });
});
