import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUMMARY_KEYS } from '../../functions/core/model/summary.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { runCrawler, startCrawler, type Run } from '../support/processes.js';
import { expectedPage, startSite } from '../support/site.js';

const CRAWL_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const PAGE_SIZE = 200;
/** Enough pages that a CLI which ignored a closed stdout would go on writing long after the reader left. */
const PAGES_SERVED = 50;

/**
 * A stand-in for the API with one completed crawl of PAGE_SIZE × PAGES_SERVED pages, for what does not need the
 * real stack: how the CLI behaves when its reader goes away.
 */
function startStubApi(): Promise<LoopbackServer> {
  const summary = (n: number) => ({
    url: `https://example.com/p/${n}`, finalUrl: `https://example.com/p/${n}`, status: 200, ok: true, contentType: 'text/html', charset: 'utf-8',
    title: `Page ${n}`, lang: 'en', description: null, canonical: null, h1: 1, links: 3, images: 0, bytes: 1000, durationMs: 5,
    fetchedAt: '2026-11-25T00:00:00.000Z', contentHash: 'h',
  });
  const status = { crawlId: CRAWL_ID, status: 'completed', total: PAGE_SIZE * PAGES_SERVED, succeeded: PAGE_SIZE * PAGES_SERVED, failed: 0, createdAt: '2026-11-25T00:00:00.000Z' };
  return startLoopbackServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && url.pathname === '/crawls') return json(202, { crawlId: CRAWL_ID, accepted: 1, rejected: [], statusUrl: `/crawls/${CRAWL_ID}` });
    if (url.pathname === `/crawls/${CRAWL_ID}`) return json(200, status);
    if (url.pathname === `/crawls/${CRAWL_ID}/pages`) {
      const page = Number(url.searchParams.get('cursor') ?? 0);
      const items = Array.from({ length: PAGE_SIZE }, (_, i) => summary(page * PAGE_SIZE + i));
      return json(200, { items, cursor: page + 1 < PAGES_SERVED ? String(page + 1) : null });
    }
    return json(404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
  });
}

/** A 2 KB page: well under the shipped body cap, over a 1024-byte one. */
const LARGE_PAGE = `<!doctype html><title>Large</title>${'<p>padding</p>'.repeat(140)}`;

let site: Awaited<ReturnType<typeof startSite>>;
let stub: LoopbackServer;
let large: LoopbackServer;
beforeAll(async () => {
  [site, stub, large] = await Promise.all([
    startSite(),
    startStubApi(),
    startLoopbackServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(LARGE_PAGE)),
  ]);
});
afterAll(async () => {
  await site?.close();
  await stub?.close();
  await large?.close();
});

describe('crawler fetch (a real process)', () => {
  it('prints one Summary per line in input order with --json, and exits 0 even when pages failed', async () => {
    const urls = [`${site.url}/page/3`, `${site.url}/missing/1`, `${site.url}/page/8`];
    const { code, stdout } = await runCrawler(['fetch', '--json', '--allow-private-network', '--concurrency', '2', ...urls]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((s) => s.url)).toEqual(urls);
    // A crawl's own fields (depth, and the comparison with the URL's earlier summary) are not a fetch's: there is no crawl.
    const crawlOnly: readonly string[] = ['error', 'depth', 'change', 'changedFields', 'previous'];
    expect(Object.keys(lines[0])).toEqual(SUMMARY_KEYS.filter((k) => !crawlOnly.includes(k)));
    const { path: _path, ...fields } = expectedPage(3);
    expect(lines[0]).toMatchObject({ ...fields, ok: true, status: 200 });
    expect(lines[1]).toMatchObject({ ok: false, status: 404, error: { code: 'HTTP_404' } });
  });

  it('reads URLs from a file, skipping blanks and comments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crawler-cli-'));
    const file = join(dir, 'urls.txt');
    await writeFile(file, `# my list\n${site.url}/page/1\n\n${site.url}/page/2\n`);
    const { code, stdout } = await runCrawler(['fetch', '--json', '--file', file], { env: { ALLOW_PRIVATE_NETWORK: 'true' } });
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).title)).toEqual([expectedPage(1).title, expectedPage(2).title]);
  });

  it('refuses loopback addresses unless allowed', async () => {
    const { code, stdout } = await runCrawler(['fetch', '--json', `${site.url}/page/1`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, error: { code: 'BLOCKED_ADDRESS' } });
  });

  it('fetches within the deployment\'s fetch limits: cdk.json\'s, or those of --config FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crawler-cli-'));
    const config = join(dir, 'small-pages.json');
    await writeFile(config, JSON.stringify({ context: { crawler: { fetch: { maxBodyBytes: 1024 } } } }));
    const big = `${large.url}/2kb`;
    const [shipped, small] = await Promise.all([
      runCrawler(['fetch', '--json', '--allow-private-network', big]),
      runCrawler(['fetch', '--json', '--allow-private-network', '--config', config, big]),
    ]);
    expect([shipped.code, small.code]).toEqual([0, 0]);
    expect(JSON.parse(shipped.stdout)).toMatchObject({ ok: true, status: 200, bytes: LARGE_PAGE.length });
    expect(JSON.parse(small.stdout)).toMatchObject({ ok: false, error: { code: 'TOO_LARGE', message: expect.stringMatching(/1024-byte cap/) } });
  });

  it.each([
    [['fetch'], /at least one URL/],
    [['fetch', '--config', '/no/such/crawler.json', 'https://a.example/'], /cannot read the config file \/no\/such\/crawler\.json: no such file/],
    [['fetch', 'not a url'], /not a URL we can fetch/],
    [['fetch', '--concurrency', '0', 'https://a.example/'], /--concurrency/],
    [['fetch', '--parse-threads', 'two', 'https://a.example/'], /--parse-threads is a whole number/],
    [['fetch', '--bogus', 'https://a.example/'], /Unknown option/],
    [['fetch', '--file', '/no/such/file'], /cannot read/],
    [['nonsense'], /unknown command/],
    [['pages', 'ID', '--format', 'xml'], /--format/],
  ])('exits 2 with a message on bad usage: %j', async (args, message) => {
    const { code, stderr } = await runCrawler(args as string[]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says clearly when the API cannot be reached', async () => {
    const { code, stderr } = await runCrawler(['status', '--endpoint', 'http://127.0.0.1:9', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it.each([[['--help']], [['-h']], [['help']]])('prints the usage on stdout and exits 0 when asked: %j', async (args) => {
    const { code, stdout, stderr } = await runCrawler(args);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(/^Usage: crawler <command>/);
    expect(stdout).toMatch(/124 +--wait --timeout passed/);
  });

  it('prints a command\'s help with `help COMMAND`, as with `COMMAND --help`', async () => {
    const [viaHelp, viaFlag] = await Promise.all([runCrawler(['help', 'status']), runCrawler(['status', '--help'])]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toMatch(/^Usage: crawler status \[--wait \[--timeout S\]\]/);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  it('with no arguments prints the usage on stderr, not stdout, and exits 2', async () => {
    const { code, stdout, stderr } = await runCrawler([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^crawler: give a command\n\nUsage: crawler <command>/);
  });

  it.each([
    [['status', '--endpoint', 'not-a-url', CRAWL_ID], /--endpoint "not-a-url" is not an absolute http\(s\) URL; .*ApiUrl that `npx cdk deploy` prints/],
    [['pages', '--endpoint', 'http://', CRAWL_ID], /--endpoint "http:\/\/" is not an absolute http\(s\) URL/],
    [['submit', '--endpoint', '127.0.0.1:3000', 'https://a.example/'], /--endpoint "127\.0\.0\.1:3000" is not an absolute http\(s\) URL/],
    [['status', '--wait', '--timeout', '0', CRAWL_ID], /--timeout is a positive number of seconds \(e\.g\. 600\), not "0"/],
    [['status', '--wait', '--timeout', 'soon', CRAWL_ID], /--timeout is a positive number of seconds \(e\.g\. 600\), not "soon"/],
    [['status', '--wait', '--timeout=-5', CRAWL_ID], /--timeout is a positive number of seconds \(e\.g\. 600\), not "-5"/],
    [['status', '--timeout', '10', CRAWL_ID], /--timeout limits how long --wait watches; give it with --wait/],
    [['submit', '--timeout', '10', 'https://a.example/'], /--timeout limits how long --wait watches/],
    [['help', 'nonsense'], /usage: crawler help \[fetch\|submit\|status\|pages\|list\|cancel\]/],
    [['toString'], /unknown command "toString"/],
    [['submit', '--same-origin', 'https://a.example/'], /--same-origin is true or false \(--same-origin=false\), not "https:\/\/a\.example\/"/],
    [['submit', '--max-depth=-1', 'https://a.example/'], /--max-depth must be a whole number ≥ 0, not "-1"/],
    [['submit', '--json', '--wait', 'https://a.example/'], /--json prints the answer to the submit, --wait the pages once the crawl completes; give one/],
  ])('exits 2 (usage) with a sentence naming what was wrong: %j', async (args, message) => {
    const { code, stdout, stderr } = await runCrawler(args as string[]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/Invalid URL|\n\s+at /);
  });
});

describe('crawler submit: a value POST /crawls would refuse', () => {
  it.each([
    ['--max-depth 11', ['--max-depth', '11'], /^crawler: --max-depth: Too big: expected number to be <=10\n$/],
    ['--max-pages 1000001', ['--max-pages', '1000001'], /^crawler: --max-pages: Too big: expected number to be <=1000000\n$/],
    ['an --include of 501 characters', ['--include', 'a'.repeat(501)], /^crawler: --include: Too big: expected string to have <=500 characters\n$/],
    ['101 --exclude patterns', Array.from({ length: 101 }, (_, i) => `--exclude=**/${i}`), /^crawler: --exclude: Too big: expected array to have <=100 items\n$/],
    ['a --name of 101 characters', ['--name', 'n'.repeat(101)], /^crawler: --name: Too big: expected string to have <=100 characters\n$/],
  ])('%s: exits 2 naming the option, without sending the request', async (_label, args, message) => {
    const requests: string[] = [];
    const api = await startLoopbackServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ crawlId: CRAWL_ID, accepted: 1, rejected: [], statusUrl: 'x' }));
    });
    try {
      const { code, stdout, stderr } = await runCrawler(['submit', '--endpoint', api.url, ...args, 'https://a.example/']);
      expect([code, stdout, requests]).toEqual([2, '', []]);
      expect(stderr).toMatch(message);
    } finally {
      await api.close();
    }
  });
});

describe('a reader that leaves early (`| head -1`)', () => {
  const noTrace = (r: Run) => {
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.code).toBe(0);
  };

  it('pages: reading one line and closing the pipe ends the CLI quietly, exit 0', async () => {
    let first = '';
    const cli = startCrawler(['pages', '--endpoint', stub.url, CRAWL_ID]);
    cli.child.stdout.on('data', (text: string) => {
      first += text;
      if (first.includes('\n')) cli.child.stdout.destroy();
    });
    const r = await cli.done;
    expect(first.split('\n')[0]).toMatch(/^STATUS\s+URL\s+TITLE\s+LINKS$/);
    noTrace(r);
  });

  // The reader is gone before the command writes anything: its first write meets a closed pipe.
  const closed = (child: ChildProcessWithoutNullStreams) => child.stdout.destroy();
  it.each([
    ['pages --format csv', () => ['pages', '--endpoint', stub.url, '--format', 'csv', CRAWL_ID]],
    ['status', () => ['status', '--endpoint', stub.url, CRAWL_ID]],
    ['status --wait', () => ['status', '--wait', '--endpoint', stub.url, CRAWL_ID]],
    ['submit', () => ['submit', '--endpoint', stub.url, 'https://a.example/']],
    ['submit --wait', () => ['submit', '--wait', '--format', 'json', '--endpoint', stub.url, 'https://a.example/']],
    // No host delay: 20 pages of one host 1 s apart would make this about pacing, not the closed pipe.
    ['fetch --json', () => ['fetch', '--json', '--allow-private-network', '--host-delay', '0', ...Array.from({ length: 20 }, (_, i) => `${site.url}/page/${i}`)]],
    ['--help', () => ['--help']],
  ])('%s: a closed stdout ends the CLI quietly, exit 0', async (_name, args) => {
    const cli = startCrawler(args());
    closed(cli.child);
    noTrace(await cli.done);
  });
});
