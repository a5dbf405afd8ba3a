import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, waitForCompletion } from '../../harness/api.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { startPoliteSite, type PoliteSite } from '../../harness/polite-site.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

/** /b's host interval: its turn comes this long after /a's, and it waits for it in the turn queue. */
const INTERVAL_MS = 20_000;

let stack: LocalStack;
let fast: PoliteSite;
/** A page held unanswered until the test lets it go: it holds the invocation that fetches it, and that container. */
let held: LoopbackServer;
let heldResponses: ServerResponse[] = [];
let heldOpen = false;
/** Whether the held page was still unanswered when /b came. */
let heldOpenWhenB: boolean | undefined;

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  fast = await startPoliteSite({ onRequest: (r) => void (r.path === '/b' && (heldOpenWhenB = heldOpen)) });
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
    // /b's turn is 20 s after /a's, far further than a page waits in the function: it goes to the turn queue.
    const paced = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${fast.url}/a`, `${fast.url}/b`], hostDelayMs: INTERVAL_MS, robotsTxt: 'ignore' });
    expect(paced.status).toBe(202);
    await vi.waitFor(() => expect(fast.of((p) => p === '/a')).toHaveLength(1), { timeout: 20_000, interval: 20 });
    // Then the page queue's only container is held by a page that does not answer until /b has come.
    const other = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${held.url}/x`], hostDelayMs: 0, robotsTxt: 'ignore' });
    expect(other.status).toBe(202);
    await vi.waitFor(() => expect(heldOpen).toBe(true), { timeout: 15_000, interval: 20 });
    try {
      await vi.waitFor(() => expect(fast.of((p) => p === '/b')).toHaveLength(1), { timeout: INTERVAL_MS + 15_000, interval: 50 });
    } finally {
      release();
    }
    // Fetched while the held page was still unanswered, so in a container of the turn queue's own.
    expect(heldOpenWhenB).toBe(true);
    const [a] = fast.of((p) => p === '/a');
    const [b] = fast.of((p) => p === '/b');
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(INTERVAL_MS);
    expect(await waitForCompletion(stack.apiUrl, paced.body.crawlId, 20_000)).toMatchObject({ status: 'completed', succeeded: 2, failed: 0 });
    expect(await waitForCompletion(stack.apiUrl, other.body.crawlId, 20_000)).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
  }, 120_000);
});
