import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FETCH_LIMITS, type RequestTurn } from '../../functions/core/fetch/fetch-limits.js';
import type { NetworkAccess } from '../../functions/core/fetch/address-guard.js';
import { fetchDocument, FetchError } from '../../functions/core/fetch/http-client.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

let server: LoopbackServer;
const seen: { path: string; at: number }[] = [];
const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
const now = () => performance.timeOrigin + performance.now();

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    seen.push({ path: req.url!, at: now() });
    if (req.url === '/moved') return void res.writeHead(301, { location: '/landing' }).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<title>x</title>');
  });
});
afterAll(() => server?.close());

const paths = () => seen.map((s) => s.path);
const turn = (at: number, late?: RequestTurn['late']): RequestTurn => ({ at, slackMs: 15, ...(late ? { late } : {}) });

describe("a request held to its host's turn (FetchLimits.turn)", () => {
  it('is sent at its turn, not before, on a reused socket and on a new connection', async () => {
    await fetchDocument(`${server.url}/warm`, limits); // a keep-alive socket to reuse
    seen.length = 0;
    // A machine this loaded (the whole suite on two cores) may fire the send timer past the turn's slack: the turn is
    // then moved to when it asks, as a consumer's would be, and the request sent then; otherwise it is sent at the turn.
    const moved: number[] = [];
    const moveToNow = async (t: number) => (moved.push(t), t);
    const at = Date.now() + 200;
    await fetchDocument(`${server.url}/reused`, { ...limits, turn: turn(at, moveToNow) });
    expect(seen[0]!.at).toBeGreaterThanOrEqual(at);
    expect(seen[0]!.at).toBeLessThan((moved[0] ?? at) + 50);
    const later = Date.now() + 200;
    // Another spelling of the host: another socket pool, a new connection, opened at once and used at the turn.
    await fetchDocument(`${server.url.replace('127.0.0.1', 'localhost')}/new`, { ...limits, turn: turn(later, moveToNow) });
    expect(seen[1]!.at).toBeGreaterThanOrEqual(later);
    expect(paths()).toEqual(['/reused', '/new']);
  });

  it('is not sent at all when its turn has passed and cannot be moved (LATE_START)', async () => {
    seen.length = 0;
    const late = await fetchDocument(`${server.url}/late`, { ...limits, turn: turn(Date.now() - 100, async () => null) }).catch((err: unknown) => err);
    expect(late).toBeInstanceOf(FetchError);
    expect(late).toMatchObject({ code: 'LATE_START', transient: true });
    const noWayToMove = await fetchDocument(`${server.url}/late-too`, { ...limits, turn: turn(Date.now() - 100) }).catch((err: unknown) => err);
    expect(noWayToMove).toMatchObject({ code: 'LATE_START' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([]);
  });

  it('asks to move a turn its connection missed (a slow lookup and handshake), and is sent at the moved time', async () => {
    seen.length = 0;
    const slowResolver: NetworkAccess = {
      resolve: async () => (await new Promise((resolve) => setTimeout(resolve, 150)), [{ address: '127.0.0.1', family: 4 }]),
      isAllowed: () => true,
    };
    const asked: number[] = [];
    const url = `${server.url.replace('127.0.0.1', 'slow-dns.test')}/slow-lookup`;
    // Moved to the moment it asks (no timer to miss again on a loaded machine): sent then, not at the missed turn.
    const doc = await fetchDocument(url, { ...limits, turn: turn(Date.now() + 20, async (t) => (asked.push(t), t)) }, slowResolver);
    expect(doc.status).toBe(200);
    expect(asked).toHaveLength(1);
    expect(seen[0]!.at).toBeGreaterThanOrEqual(asked[0]!);
  });

  it('asks to move a turn its timer missed (the process busy at the turn), and is sent at the moved time', async () => {
    await fetchDocument(`${server.url}/warm`, limits); // a keep-alive socket: the request waits on its timer alone
    seen.length = 0;
    const asked: number[] = [];
    const fetching = fetchDocument(`${server.url}/busy`, { ...limits, turn: turn(Date.now() + 30, async (t) => (asked.push(t), t)) });
    const busyUntil = Date.now() + 120;
    while (Date.now() < busyUntil); // the event loop held past the turn and its slack
    expect((await fetching).status).toBe(200);
    expect(asked).toHaveLength(1);
    expect(seen.map((s) => s.path)).toEqual(['/busy']);
    expect(seen[0]!.at).toBeGreaterThanOrEqual(asked[0]!);
  });

  it('gives the turn up (LATE_START) once it has been moved twice and missed again', async () => {
    seen.length = 0;
    let moves = 0;
    const missed = await fetchDocument(`${server.url}/always-late`, { ...limits, turn: turn(Date.now() - 100, async (t) => (moves++, t - 100)) }).catch((err: unknown) => err);
    expect(missed).toMatchObject({ code: 'LATE_START' });
    expect(moves).toBe(2);
    expect(seen).toEqual([]);
  });

  it('holds only the first request to it, not the redirects that follow', async () => {
    seen.length = 0;
    // A first request late on a busy machine moves its turn; a redirect held to that turn would ask too, once the site
    // has seen the first request.
    const askedAfter: number[] = [];
    const doc = await fetchDocument(`${server.url}/moved`, { ...limits, turn: turn(Date.now() + 50, async (t) => (askedAfter.push(seen.length), t)) });
    expect(doc).toMatchObject({ status: 200, finalUrl: `${server.url}/landing` });
    expect(paths()).toEqual(['/moved', '/landing']);
    expect(askedAfter.filter((n) => n > 0)).toEqual([]);
  });
});
