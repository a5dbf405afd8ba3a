import { setTimeout as sleep } from 'node:timers/promises';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { runCrawler } from '../support/processes.js';

/**
 * DELETE /crawls/{crawlId} and `crawler cancel` through the local stack (API server → submit function → DynamoDB
 * Local; the consumer on the real SQS server). The site is slow (each page takes PAGE_MS), so a crawl is still going
 * when it is cancelled, and it records when each request started: the contract's bound is measured where it
 * matters, at the site.
 */
const PAGE_MS = 300;
/** The contract: no request for the crawl starts more than this long after the DELETE was answered. */
const CANCEL_BOUND_MS = 5_000;

let stack: LocalStack;
let site: LoopbackServer;
let api: string;
/** Each request's start time (epoch ms), by path. */
const starts = new Map<string, number[]>();

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  site = await startLoopbackServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    starts.set(path, [...(starts.get(path) ?? []), Date.now()]);
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>${path}</title>`), PAGE_MS);
  });
  stack = await startLocalStack({ config: parseCrawlerConfig({}), port: 0 });
  api = stack.apiUrl;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await site?.close();
});

const slowUrls = (prefix: string, count: number) => Array.from({ length: count }, (_, n) => `${site.url}/${prefix}/${n}`);
const requestsUnder = (prefix: string) => [...starts].filter(([path]) => path.startsWith(`/${prefix}/`)).flatMap(([, at]) => at);

/** Polls the crawl until it has its completedAt (a cancelled crawl never becomes `completed`). */
async function waitForEnd(crawlId: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(api, 'GET', `/crawls/${crawlId}`);
    if (body.completedAt) return body;
    if (Date.now() > deadline) throw new Error(`crawl ${crawlId} has no completedAt after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await sleep(200);
  }
}

async function submit(urls: string[], hostDelayMs = 0): Promise<string> {
  const res = await call(api, 'POST', '/crawls', { urls, hostDelayMs, robotsTxt: 'ignore' });
  expect(res.status).toBe(202);
  return res.body.crawlId;
}

describe('DELETE /crawls/{crawlId} through the local stack', () => {
  it('stops a crawl of a slow site mid-way: no request starts 5 s after the answer, every unfetched URL ends CANCELLED', async () => {
    const urls = slowUrls('slow', 400);
    const crawlId = await submit(urls);
    // Mid-way: some pages fetched, most not.
    while (requestsUnder('slow').length < 20) await sleep(50);
    const askedAt = Date.now();
    const res = await call(api, 'DELETE', `/crawls/${crawlId}`);
    const answeredAt = Date.now();
    console.log(`e2e cancel: DELETE answered in ${answeredAt - askedAt} ms, ${requestsUnder('slow').length} requests by then`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ crawlId, status: 'cancelled', total: 400, cancelledAt: expect.any(String) });

    const ended = await waitForEnd(crawlId);
    // Quiet for a while after the end too: a late request would show up here.
    await sleep(1_000);
    const latest = Math.max(...requestsUnder('slow'));
    console.log(`e2e cancel: ${requestsUnder('slow').length} of 400 requested; the last started ${latest - answeredAt} ms after the DELETE's answer`);
    expect(latest - answeredAt).toBeLessThanOrEqual(CANCEL_BOUND_MS);

    expect(ended).toMatchObject({ crawlId, status: 'cancelled', total: 400, cancelledAt: res.body.cancelledAt, completedAt: expect.any(String) });
    expect(ended.succeeded + ended.failed).toBe(ended.total);
    const pages = await allPages(api, crawlId, 200);
    expect(pages).toHaveLength(400);
    expect(new Set(pages.map((p) => p.url)).size).toBe(400);
    const neverRequested = pages.filter((p) => !starts.has(new URL(p.url).pathname));
    expect(neverRequested.length).toBeGreaterThan(0);
    for (const p of neverRequested) expect(p, p.url).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    // Each URL was requested at most once.
    for (const p of pages) expect(starts.get(new URL(p.url).pathname)?.length ?? 0, p.url).toBeLessThanOrEqual(1);

    // GET shows it as cancelled, with when.
    const read = await call(api, 'GET', `/crawls/${crawlId}`);
    expect(read.body).toEqual(ended);

    // Repeating the DELETE is harmless: 202, the same crawl, the same cancelledAt.
    const again = await call(api, 'DELETE', `/crawls/${crawlId}`);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(ended);
  });

  it('ends the URLs waiting for their host\'s turn (paced, sent again with a delay) without fetching them', async () => {
    // A host of its own (another port) at 500 ms between request starts: when the cancel comes, most of its URLs
    // wait on the queue as delayed messages.
    const paced = await startLoopbackServer(site.server.listeners('request')[0] as Parameters<typeof startLoopbackServer>[0]);
    onTestFinished(() => paced.close());
    const urls = Array.from({ length: 30 }, (_, n) => `${paced.url}/paced/${n}`);
    const crawlId = await submit(urls, 500);
    while (requestsUnder('paced').length < 4) await sleep(50);
    const res = await call(api, 'DELETE', `/crawls/${crawlId}`);
    const answeredAt = Date.now();
    expect(res.status).toBe(202);

    const ended = await waitForEnd(crawlId, 120_000);
    const latest = Math.max(...requestsUnder('paced'));
    console.log(`e2e cancel (paced): ${requestsUnder('paced').length} of 30 requested; the last started ${latest - answeredAt} ms after the answer; completedAt ${Date.parse(ended.completedAt) - answeredAt} ms after it`);
    expect(latest - answeredAt).toBeLessThanOrEqual(CANCEL_BOUND_MS);
    expect(ended).toMatchObject({ status: 'cancelled', total: 30, cancelledAt: res.body.cancelledAt });
    expect(ended.succeeded + ended.failed).toBe(30);
    const pages = await allPages(api, crawlId, 100);
    expect(pages).toHaveLength(30);
    const neverRequested = pages.filter((p) => !starts.has(new URL(p.url).pathname));
    expect(neverRequested.length).toBeGreaterThan(10);
    for (const p of neverRequested) expect(p, p.url).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
  });

  it('answers 409 CRAWL_COMPLETED for a crawl that had completed, and 404 CRAWL_NOT_FOUND for an unknown one', async () => {
    const crawlId = await submit(slowUrls('done', 2));
    const completed = await waitForCompletion(api, crawlId);
    const res = await call(api, 'DELETE', `/crawls/${crawlId}`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CRAWL_COMPLETED');
    expect((await call(api, 'GET', `/crawls/${crawlId}`)).body).toEqual(completed);

    for (const id of [ulid(), 'not-a-crawl-id']) {
      const missing = await call(api, 'DELETE', `/crawls/${id}`);
      expect([missing.status, missing.body.error.code]).toEqual([404, 'CRAWL_NOT_FOUND']);
    }
  });

  it('lists DELETE among the methods /crawls/{crawlId} allows (405 otherwise)', async () => {
    const res = await call(api, 'PUT', `/crawls/${ulid()}`, {});
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, DELETE');
    expect((await call(api, 'DELETE', '/crawls')).status).toBe(405);
  });
});

describe('crawler cancel against the local stack (a real process)', () => {
  it('cancels a running crawl and says so; again is the same; --json prints the crawl', async () => {
    const crawlId = await submit(slowUrls('cli', 300));
    while (requestsUnder('cli').length < 5) await sleep(50);
    const first = await runCrawler(['cancel', '--endpoint', api, crawlId]);
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(first.stdout).toMatch(new RegExp(`^crawl ${crawlId} cancelled at \\S+Z: \\d+ of 300 ended \\(\\d+ succeeded, \\d+ failed\\); `));

    const json = await runCrawler(['cancel', '--json', '--endpoint', api, crawlId]);
    expect(json.code).toBe(0);
    const crawl = JSON.parse(json.stdout);
    expect(crawl).toMatchObject({ crawlId, status: 'cancelled', total: 300, cancelledAt: expect.any(String) });
    expect(first.stdout).toContain(`cancelled at ${crawl.cancelledAt}:`);

    // status --wait follows a cancelled crawl to its completedAt (its status stays cancelled), then prints it.
    const watched = await runCrawler(['status', '--wait', '--timeout', '120', '--endpoint', api, crawlId]);
    expect(watched.code).toBe(0);
    const done = JSON.parse(watched.stdout);
    expect(done).toMatchObject({ crawlId, status: 'cancelled', total: 300, cancelledAt: crawl.cancelledAt, completedAt: expect.any(String) });
    expect(done.succeeded + done.failed).toBe(300);
    expect(watched.stderr).toMatch(/cancelled: 300\/300 100% · \d+ failed · [\d.]+ pages\/s · done\n/);
  });

  it('exits 1 with the API error for a completed or unknown crawl, and 2 without a crawl id', async () => {
    const crawlId = await submit(slowUrls('cli-done', 1));
    await waitForCompletion(api, crawlId);
    const completed = await runCrawler(['cancel', '--endpoint', api, crawlId]);
    expect(completed.code).toBe(1);
    expect(completed.stderr).toMatch(new RegExp(`^crawler: CRAWL_COMPLETED: crawl ${crawlId} completed at \\S+: there is nothing left to cancel\\n$`));
    expect(completed.stdout).toBe('');

    const unknown = ulid();
    const missing = await runCrawler(['cancel', '--endpoint', api, unknown]);
    expect([missing.code, missing.stderr]).toEqual([1, `crawler: CRAWL_NOT_FOUND: no crawl with id ${unknown}\n`]);

    const usage = await runCrawler(['cancel', '--endpoint', api]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^crawler: give exactly one CRAWL_ID/);
  });
});
