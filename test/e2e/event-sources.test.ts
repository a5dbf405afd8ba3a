import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, waitForCompletion } from '../../harness/api.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { startPoliteSite, type PoliteSite } from '../../harness/polite-site.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

/** The fast host's interval: /b's turn comes this long after /a's, and it waits for it in the turn queue. */
const INTERVAL_MS = 20_000;

let stack: LocalStack;
let fast: PoliteSite;
/** A page held unanswered until the test lets it go: it holds the invocation that fetches it, and that container. */
let held: LoopbackServer;
let heldResponses: ServerResponse[] = [];
let heldOpen = false;
/** Whether the held page was still unanswered when each of the fast site's requests came. */
const heldOpenAt: boolean[] = [];

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  fast = await startPoliteSite({ onRequest: () => void heldOpenAt.push(heldOpen) });
  held = await startLoopbackServer((_req, res) => {
    heldOpen = true;
    heldResponses.push(res);
    res.on('close', () => void (heldOpen = false));
  });
  // One container for each of the consume function's event sources; deadlines the held page outlasts /b's turn in.
  const config = parseCrawlerConfig({ fetch: { headersTimeoutMs: 40_000, timeoutMs: 45_000 } });
  stack = await startLocalStack({ config, port: 0, maxContainers: 1 });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await Promise.all([fast?.close(), held?.close()]);
});

const release = () => {
  for (const res of heldResponses.splice(0)) if (!res.destroyed) res.writeHead(200, { 'content-type': 'text/html' }).end('<title>held</title>');
};

describe("the consume function's two event sources in the local stack", () => {
  it("run a URL back from the turn queue while the page queue's batches hold every container that queue may use, as each event source mapping's own maximumConcurrency lets Lambda do", async () => {
    expect(stack.consumerContainers).toBe(1);
    // /a alone first: its turn is now (a send that misses it by a little is moved, no turn being planned after it).
    const first = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${fast.url}/a`], hostDelayMs: INTERVAL_MS, robotsTxt: 'ignore' });
    expect(first.status).toBe(202);
    await vi.waitFor(() => expect(fast.requests).toHaveLength(1), { timeout: 20_000, interval: 20 });
    // Then /b: its turn is 20 s after /a's, far further than a page waits in the function: it goes to the turn queue.
    const paced = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${fast.url}/b`], hostDelayMs: INTERVAL_MS, robotsTxt: 'ignore' });
    expect(paced.status).toBe(202);
    // Then the page queue's only container is held by a page that does not answer until /b has come.
    const other = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${held.url}/x`], hostDelayMs: 0, robotsTxt: 'ignore' });
    expect(other.status).toBe(202);
    await vi.waitFor(() => expect(heldOpen).toBe(true), { timeout: 15_000, interval: 20 });
    try {
      await vi.waitFor(() => expect(fast.requests).toHaveLength(2), { timeout: INTERVAL_MS + 15_000, interval: 50 });
    } finally {
      release();
    }
    // /b fetched while the held page was still unanswered, so in a container of the turn queue's own.
    expect(heldOpenAt).toEqual([false, true]);
    const [a, b] = fast.requests;
    expect([a!.path, b!.path]).toEqual(['/a', '/b']);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(INTERVAL_MS);
    expect(await waitForCompletion(stack.apiUrl, first.body.crawlId, 20_000)).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
    expect(await waitForCompletion(stack.apiUrl, paced.body.crawlId, 20_000)).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
    expect(await waitForCompletion(stack.apiUrl, other.body.crawlId, 20_000)).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
  }, 120_000);
});
