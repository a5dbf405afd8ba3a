import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, waitForCompletion } from '../../harness/api.js';
import { startPoliteSite, type PoliteSite } from '../../harness/polite-site.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

/** How long every page of the slow site takes to answer: well inside the fetch's deadlines this stack is given. */
const SLOW_MS = 10_000;

let stack: LocalStack;
let fast: PoliteSite;
let slow: PoliteSite;

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  [fast, slow] = await Promise.all([startPoliteSite(), startPoliteSite({ latencyMs: SLOW_MS })]);
  // One container for each of the consume function's event sources; deadlines the slow page fits in with room to spare.
  const config = parseCrawlerConfig({ fetch: { headersTimeoutMs: 20_000, timeoutMs: 25_000 } });
  stack = await startLocalStack({ config, port: 0, maxContainers: 1 });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await Promise.all([fast?.close(), slow?.close()]);
});

describe("the consume function's two event sources in the local stack", () => {
  it("run a URL back from the turn queue while the page queue's batches hold every container that queue may use, as each event source mapping's own maximumConcurrency lets Lambda do", async () => {
    expect(stack.consumerContainers).toBe(1);
    // /b's turn is 3 s after /a's, further than a page waits in the function (1.5 s) even if /b claims it a second
    // after /a: it goes to the turn queue, to come back then.
    const paced = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${fast.url}/a`, `${fast.url}/b`], hostDelayMs: 3_000, robotsTxt: 'ignore' });
    expect(paced.status).toBe(202);
    await vi.waitFor(() => expect(fast.of((p) => p === '/a')).toHaveLength(1), { timeout: 20_000, interval: 20 });
    // Meanwhile the page queue's only container is held by a page that takes 10 s to answer.
    const held = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${slow.url}/x`], hostDelayMs: 0, robotsTxt: 'ignore' });
    expect(held.status).toBe(202);
    expect(await waitForCompletion(stack.apiUrl, paced.body.crawlId, 30_000)).toMatchObject({ status: 'completed', succeeded: 2, failed: 0 });
    expect(await waitForCompletion(stack.apiUrl, held.body.crawlId, 30_000)).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });

    const [a] = fast.of((p) => p === '/a');
    const [b] = fast.of((p) => p === '/b');
    const [x] = slow.requests;
    // The held page was asked after /a and before /b came back: /b was fetched while the page queue's container was
    // still waiting for the slow answer, not after it.
    expect(x!.at).toBeGreaterThan(a!.at);
    expect(b!.at).toBeGreaterThan(x!.at);
    expect(b!.at).toBeLessThan(x!.at + SLOW_MS);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(3_000);
  }, 60_000);
});
