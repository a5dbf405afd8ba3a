import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { NetworkAccess } from '../../functions/core/fetch/address-guard.js';
import { fetchDocument, FetchError } from '../../functions/core/fetch/http-client.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

let server: LoopbackServer;
const seen: string[] = [];
const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    seen.push(req.url!);
    if (req.url === '/moved') return void res.writeHead(301, { location: '/landing' }).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<title>x</title>');
  });
});
afterAll(() => server?.close());

describe("a request held to its host's turn (FetchLimits.startBy)", () => {
  it('is not sent when its turn has passed, on a reused socket or a new connection, and is sent while it holds', async () => {
    await fetchDocument(`${server.url}/warm`, limits); // a keep-alive socket to reuse
    const late = (url: string) => fetchDocument(url, { ...limits, startBy: Date.now() - 1 }).catch((err: unknown) => err);
    const reused = await late(`${server.url}/late-reused`);
    expect(reused).toBeInstanceOf(FetchError);
    expect(reused).toMatchObject({ code: 'LATE_START', transient: true });
    // Another spelling of the host: another socket pool, a new connection.
    expect(await late(`${server.url.replace('127.0.0.1', 'localhost')}/late-new`)).toMatchObject({ code: 'LATE_START' });
    expect((await fetchDocument(`${server.url}/on-time`, { ...limits, startBy: Date.now() + 1_000 })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual(['/warm', '/on-time']);
  });

  it('starts a new connection in its turn however long the lookup and handshake then take (a real site, not loopback)', async () => {
    seen.length = 0;
    const slowResolver: NetworkAccess = {
      resolve: async () => (await new Promise((resolve) => setTimeout(resolve, 150)), [{ address: '127.0.0.1', family: 4 }]),
      isAllowed: () => true,
    };
    const url = `${server.url.replace('127.0.0.1', 'slow-dns.test')}/slow-lookup`;
    const doc = await fetchDocument(url, { ...limits, startBy: Date.now() + 20 }, slowResolver);
    expect(doc.status).toBe(200);
    expect(seen).toEqual(['/slow-lookup']);
  });

  it('holds only the first request to it, not the redirects that follow', async () => {
    seen.length = 0;
    const doc = await fetchDocument(`${server.url}/moved`, { ...limits, startBy: Date.now() + 1_000 });
    expect(doc).toMatchObject({ status: 200, finalUrl: `${server.url}/landing` });
    expect(seen).toEqual(['/moved', '/landing']);
  });
});
