import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Summary } from '../../functions/core/model/summary.js';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import type { RecordingSite } from '../../harness/polite-site.js';
import { startPoliteSiteProcess } from '../../harness/polite-site-process.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

const USER_AGENT = 'politetest/1.0 (+https://example.com/bot)';
/** A small site: its home links to pages, two of them under /private/, which robots.txt disallows. */
const LINKS: Record<string, string[]> = {
  '/': ['/a', '/b', '/private/1', '/c'],
  '/a': ['/d', '/private/2', '/'],
  '/b': ['/e'],
};

let stack: LocalStack;
/** Each in a process of its own, so that the times they record are not held up by the stack's containers in this one. */
let site: RecordingSite;
let other: RecordingSite;

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  [site, other] = await Promise.all([
    startPoliteSiteProcess({ robots: 'User-agent: politetest\nDisallow: /private/\nCrawl-delay: 1\n\nUser-agent: *\nDisallow: /\n', links: LINKS }),
    startPoliteSiteProcess({ links: LINKS }),
  ]);
  // The shipped politeness (1 s between requests to a host) and a User-Agent of our own, with several consumers.
  stack = await startLocalStack({ config: parseCrawlerConfig({ userAgent: USER_AGENT }), port: 0 });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await Promise.all([site?.close(), other?.close()]);
});

const byPath = (pages: Summary[], origin: string) => Object.fromEntries(pages.map((p) => [p.url.slice(origin.length), p.error?.code ?? 'ok']));

describe('politeness through the local stack (several consumers, one table)', () => {
  it('obeys robots.txt for its own product token, keeps Crawl-delay on one host while another host goes on in parallel', async () => {
    const [one, two] = await Promise.all([
      call(stack.apiUrl, 'POST', '/crawls', { urls: [`${site.url}/`], maxDepth: 2 }),
      call(stack.apiUrl, 'POST', '/crawls', { urls: [`${other.url}/`], maxDepth: 2 }),
    ]);
    expect([one.status, two.status]).toEqual([202, 202]);
    const [doneOne, doneTwo] = await Promise.all([waitForCompletion(stack.apiUrl, one.body.crawlId, 60_000), waitForCompletion(stack.apiUrl, two.body.crawlId, 60_000)]);
    expect(doneOne).toMatchObject({ status: 'completed', total: 8, succeeded: 6, failed: 2 });
    expect(doneTwo).toMatchObject({ status: 'completed', total: 8, succeeded: 8, failed: 0 });
    await Promise.all([site.sync(), other.sync()]);

    expect(byPath(await allPages(stack.apiUrl, one.body.crawlId), site.url)).toEqual({
      '/': 'ok', '/a': 'ok', '/b': 'ok', '/c': 'ok', '/d': 'ok', '/e': 'ok', '/private/1': 'ROBOTS_DISALLOWED', '/private/2': 'ROBOTS_DISALLOWED',
    });
    // Nothing disallowed was requested; robots.txt once; every start on the host at least Crawl-delay apart.
    expect(site.requests.map((r) => r.path).sort()).toEqual(['/', '/a', '/b', '/c', '/d', '/e', '/robots.txt']);
    expect(Math.min(...site.gaps())).toBeGreaterThanOrEqual(1_000);
    expect(site.requests.every((r) => r.userAgent === USER_AGENT && r.inFlight === 1)).toBe(true);
    // The other host (no robots.txt, the deployment's 1 s) kept its own pace, at the same time.
    expect(other.requests.map((r) => r.path).sort()).toEqual(['/', '/a', '/b', '/c', '/d', '/e', '/private/1', '/private/2', '/robots.txt'].sort());
    expect(Math.min(...other.gaps())).toBeGreaterThanOrEqual(1_000);
    expect(other.requests[0]!.at).toBeLessThan(site.requests.at(-1)!.at);
    expect(site.requests[0]!.at).toBeLessThan(other.requests.at(-1)!.at);
  });

  it('reuses the stored robots.txt for a later crawl of the same origin, and keeps the pace across crawls', async () => {
    const before = site.requests.length;
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${site.url}/`, `${site.url}/private/1`, `${site.url}/b`] });
    const done = await waitForCompletion(stack.apiUrl, submit.body.crawlId, 30_000);
    expect(done).toMatchObject({ status: 'completed', total: 3, succeeded: 2, failed: 1 });
    await site.sync();
    const again = site.requests.slice(before).map((r) => r.path);
    expect(again.sort()).toEqual(['/', '/b']);
    expect(Math.min(...site.gaps())).toBeGreaterThanOrEqual(1_000);
  });

  it('lets a crawl ignore robots.txt and go as fast as it asks (hostDelayMs 0)', async () => {
    const before = site.requests.length;
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls: ['/private/1', '/private/2', '/private/3', '/private/4'].map((p) => `${site.url}${p}`), robotsTxt: 'ignore', hostDelayMs: 0 });
    const done = await waitForCompletion(stack.apiUrl, submit.body.crawlId, 30_000);
    expect(done).toMatchObject({ status: 'completed', total: 4, succeeded: 4 });
    await site.sync();
    const times = site.requests.slice(before).map((r) => r.at);
    expect(times).toHaveLength(4);
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(1_000);
  });
});
