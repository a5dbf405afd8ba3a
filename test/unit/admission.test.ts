import { describe, expect, it } from 'vitest';
import type { RobotsFetchOutcome } from '../../functions/core/fetch/robots-fetch.js';
import { FetchError } from '../../functions/core/fetch/http-client.js';
import { admit, admitHere, fetchPolitely, type PoliteDeps } from '../../functions/core/polite/admission.js';
import { MemoryHostPacer, MemoryRobotsStore } from '../../functions/core/polite/memory.js';
import { LATE_START_MS, PACE_MARGIN_MS, PRECONNECT_MS } from '../../functions/core/polite/pacing-policy.js';
import { knownRobots, robotsDecision, robotsRecordFor, ROBOTS_FAILURE_TTL_MS, ROBOTS_TTL_MS } from '../../functions/core/polite/robots-gate.js';
import { RobotsSource } from '../../functions/core/polite/robots-source.js';

const T0 = 1_800_000_000_000;
const ORIGIN = 'https://site.example';
const TOKEN = 'serverless-crawler';
const text = (s: string) => new TextEncoder().encode(s);
const response = (status: number, body = ''): RobotsFetchOutcome => ({ kind: 'response', status, body: text(body), finalUrl: `${ORIGIN}/robots.txt` });

describe('robotsRecordFor and robotsDecision', () => {
  const decide = (outcome: RobotsFetchOutcome, url: string, maxCrawlDelaySeconds = 30) =>
    robotsDecision(knownRobots(robotsRecordFor(ORIGIN, outcome, TOKEN, T0)), url, maxCrawlDelaySeconds);

  it('obeys a 2xx file: disallowed URLs fail ROBOTS_DISALLOWED naming the rule, others carry the Crawl-delay', () => {
    const file = response(200, 'User-agent: *\nDisallow: /private/\nCrawl-delay: 1.5\n');
    expect(decide(file, `${ORIGIN}/private/a`)).toEqual({
      kind: 'fail',
      error: { code: 'ROBOTS_DISALLOWED', message: `${ORIGIN}/robots.txt disallows this URL (User-agent: *: Disallow: /private/)` },
      transient: false,
    });
    expect(decide(file, `${ORIGIN}/public`)).toEqual({ kind: 'allow', crawlDelayMs: 1_500 });
    expect(robotsRecordFor(ORIGIN, file, TOKEN, T0).validUntil).toBe(T0 + ROBOTS_TTL_MS);
  });

  it('fails CRAWL_DELAY_TOO_LONG when the Crawl-delay is over the deployment maximum', () => {
    expect(decide(response(200, 'User-agent: serverless-crawler\nCrawl-delay: 31\n'), `${ORIGIN}/`)).toMatchObject({
      kind: 'fail', error: { code: 'CRAWL_DELAY_TOO_LONG' }, transient: false,
    });
  });

  it('allows everything on a 4xx or after more than 5 redirects, and nothing on a 5xx or a transient failure (retried)', () => {
    expect(decide(response(404), `${ORIGIN}/private/a`)).toEqual({ kind: 'allow', crawlDelayMs: 0 });
    expect(decide({ kind: 'failed', code: 'TOO_MANY_REDIRECTS', message: 'x', transient: false, finalUrl: `${ORIGIN}/r5` }, `${ORIGIN}/a`)).toMatchObject({ kind: 'allow' });
    expect(decide(response(503), `${ORIGIN}/a`)).toMatchObject({ kind: 'fail', error: { code: 'ROBOTS_UNREACHABLE' }, transient: true });
    const timeout = { kind: 'failed', code: 'TIMEOUT', message: 'slow', transient: true, finalUrl: `${ORIGIN}/robots.txt` } as const;
    expect(decide(timeout, `${ORIGIN}/a`)).toMatchObject({ kind: 'fail', error: { code: 'ROBOTS_UNREACHABLE' }, transient: true });
    expect(robotsRecordFor(ORIGIN, timeout, TOKEN, T0).validUntil).toBe(T0 + ROBOTS_FAILURE_TTL_MS);
  });

  it("fails with the origin's own error when it cannot be reached at all, and ROBOTS_UNREACHABLE when a redirect elsewhere is refused", () => {
    const dns = { kind: 'failed', code: 'DNS', message: 'site.example does not resolve', transient: false, finalUrl: `${ORIGIN}/robots.txt` } as const;
    expect(decide(dns, `${ORIGIN}/a`)).toEqual({ kind: 'fail', error: { code: 'DNS', message: 'site.example does not resolve' }, transient: false });
    const blocked = { kind: 'failed', code: 'BLOCKED_ADDRESS', message: '10.0.0.1 is private', transient: false, finalUrl: 'http://internal.example/robots.txt' } as const;
    expect(decide(blocked, `${ORIGIN}/a`)).toMatchObject({ kind: 'fail', error: { code: 'ROBOTS_UNREACHABLE' }, transient: false });
  });
});

/** Politeness on memory ports with a fake clock, and a robots.txt fetcher that counts. */
function setup(robots: (origin: string) => RobotsFetchOutcome = () => response(404)) {
  let clock = T0;
  const fetched: string[] = [];
  const deps: PoliteDeps = {
    settings: { userAgent: `${TOKEN}/1.0`, hostDelayMs: 1_000, maxCrawlDelaySeconds: 30 },
    pacer: new MemoryHostPacer(),
    robots: new RobotsSource({
      store: new MemoryRobotsStore(),
      fetch: async (origin) => {
        fetched.push(origin);
        return robots(origin);
      },
      userAgentToken: TOKEN,
      leaseMs: 10_000,
      now: () => clock,
      sleep: async (ms) => void (clock += ms),
    }),
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
  };
  return { deps, fetched, advance: (ms: number) => (clock += ms), now: () => clock };
}

describe('admit', () => {
  it('fetches robots.txt once per origin in the host turn, then gives the page the next turn (waiting in the process)', async () => {
    const { deps, fetched, now } = setup(() => response(200, 'User-agent: *\nDisallow: /private/'));
    const [a, b] = await Promise.all([admit(`${ORIGIN}/a`, {}, deps, { preconnect: true }), admit(`${ORIGIN}/private/b`, {}, deps, { preconnect: true })]);
    expect(fetched).toEqual([ORIGIN]);
    // robots.txt at T0, the page's turn one interval later, handed to the fetch PRECONNECT_MS before it.
    expect(a).toMatchObject({ kind: 'go', turn: { at: T0 + 1_000 + PACE_MARGIN_MS, slackMs: LATE_START_MS } });
    expect(b).toMatchObject({ kind: 'fail', error: { code: 'ROBOTS_DISALLOWED' } });
    expect(now()).toBe(T0 + 1_000 + PACE_MARGIN_MS - PRECONNECT_MS);
  });

  it('sends a URL away with a reservation when its turn is not close, and lets it start when it comes back', async () => {
    const { deps, advance } = setup();
    const crawl = { robotsTxt: 'ignore' as const, hostDelayMs: 5_000 };
    expect(await admit(`${ORIGIN}/1`, crawl, deps)).toMatchObject({ kind: 'go' });
    const wait = await admit(`${ORIGIN}/2`, crawl, deps);
    const turn = T0 + 5_000 + PACE_MARGIN_MS;
    expect(wait).toEqual({ kind: 'wait', until: turn, reservation: turn });
    advance(4_500);
    expect(await admit(`${ORIGIN}/2`, crawl, deps, { reservation: turn })).toMatchObject({ kind: 'go', turn: { at: turn } });
  });

  it('claims nothing for a crawl with hostDelayMs 0 and ignores robots.txt when the crawl says so', async () => {
    const { deps, fetched, now } = setup(() => response(200, 'User-agent: *\nDisallow: /'));
    for (let i = 0; i < 5; i++) expect(await admit(`${ORIGIN}/${i}`, { robotsTxt: 'ignore', hostDelayMs: 0 }, deps)).toEqual({ kind: 'go' });
    expect(now()).toBe(T0);
    expect(fetched).toEqual([]);
  });

  it('paces by the Crawl-delay when it is longer than hostDelayMs, and by the host penalty AutoThrottle set', async () => {
    const { deps, now } = setup(() => response(200, 'User-agent: *\nCrawl-delay: 3'));
    await admitHere(`${ORIGIN}/a`, { hostDelayMs: 0 }, deps);
    const start = now();
    await admitHere(`${ORIGIN}/b`, { hostDelayMs: 0 }, deps);
    expect(now() - start).toBe(3_000 + PACE_MARGIN_MS);
    await deps.pacer.report('other.example:443', 'slow', 60_000);
    await deps.pacer.report('other.example:443', 'slow', 60_000);
    await admitHere('https://other.example/1', { hostDelayMs: 0, robotsTxt: 'ignore' }, deps);
    const t = now();
    await admitHere('https://other.example/2', { hostDelayMs: 0, robotsTxt: 'ignore' }, deps);
    expect(now() - t).toBe(2_000 + PACE_MARGIN_MS);
  });

  it('moves a turn the process could not make in time to when it could, and paces the next request from there', async () => {
    const { deps, now, advance } = setup();
    const crawl = { robotsTxt: 'ignore' as const, hostDelayMs: 1_000 };
    expect(await admit(`${ORIGIN}/a`, crawl, deps)).toMatchObject({ kind: 'go' });
    // The process oversleeps the wait before the second turn by 500 ms (a busy event loop): 200 ms past the turn.
    deps.sleep = async (ms) => void advance(ms + 500);
    const late = await admit(`${ORIGIN}/b`, crawl, deps, { preconnect: true });
    const slidTo = T0 + 1_000 + PACE_MARGIN_MS + 200;
    expect(late).toMatchObject({ kind: 'go', turn: { at: slidTo } });
    expect(now()).toBe(slidTo);
    deps.sleep = async (ms) => void advance(ms);
    expect(await admit(`${ORIGIN}/c`, crawl, deps, { preconnect: true })).toMatchObject({ kind: 'go', turn: { at: slidTo + 1_000 + PACE_MARGIN_MS } });
  });

  it('takes another turn when the request could not leave in its turn (LATE_START), handing the fetch each turn', async () => {
    const { deps, now } = setup();
    const crawl = { robotsTxt: 'ignore' as const, hostDelayMs: 1_000 };
    const turns: (number | undefined)[] = [];
    const got = await fetchPolitely(`${ORIGIN}/a`, crawl, deps, async ({ turn }) => {
      turns.push(turn?.at);
      if (turns.length === 1) throw new FetchError('LATE_START', 'late', `${ORIGIN}/a`, null, true);
      return { status: 200 };
    });
    expect(got).toEqual({ kind: 'fetched', response: { status: 200 } });
    // The first turn at once, the second one interval after it (the missed turn still counts as a start); the fetch
    // is given each turn PRECONNECT_MS ahead, to open its connection meanwhile.
    expect(turns).toEqual([T0, T0 + 1_000 + PACE_MARGIN_MS]);
    expect(now()).toBe(T0 + 1_000 + PACE_MARGIN_MS - PRECONNECT_MS);
  });

  it('hands back a wait, not a failure, when the request keeps missing its turns (a process too busy): a wait uses no attempt', async () => {
    const { deps, now } = setup();
    const crawl = { robotsTxt: 'ignore' as const, hostDelayMs: 1_000 };
    let tries = 0;
    const got = await fetchPolitely(`${ORIGIN}/a`, crawl, deps, async () => {
      tries++;
      throw new FetchError('LATE_START', 'late', `${ORIGIN}/a`, null, true);
    });
    expect(tries).toBe(3);
    expect(got).toEqual({ kind: 'wait', until: now() + 2_000 });
  });

  it("moves a turn the fetch's connection missed, when no turn was planned after it", async () => {
    const { deps, advance } = setup();
    const crawl = { robotsTxt: 'ignore' as const, hostDelayMs: 1_000 };
    const a = await admit(`${ORIGIN}/a`, crawl, deps);
    if (a.kind !== 'go' || !a.turn?.late) throw new Error('expected a turn');
    advance(120); // the connection took 120 ms
    expect(await a.turn.late(T0 + 120)).toBe(T0 + 120);
    // The next request is paced from the moved start; and that turn can no longer be moved once one is planned after it.
    const b = await admit(`${ORIGIN}/b`, crawl, deps);
    expect(b).toMatchObject({ kind: 'go', turn: { at: T0 + 120 + 1_000 + PACE_MARGIN_MS } });
    expect(await a.turn.late(T0 + 130)).toBeNull();
  });
});

describe('admission and a cancel', () => {
  it('fails CANCELLED once the turn is here when the crawl was cancelled while it waited', async () => {
    const { deps, fetched } = setup();
    const crawl = { hostDelayMs: 1_000 };
    let cancelledFrom = Infinity;
    const asked: number[] = [];
    const cancelledNow = async () => {
      asked.push(deps.now!());
      return deps.now!() >= cancelledFrom;
    };
    expect(await admit(`${ORIGIN}/a`, crawl, deps, { cancelled: cancelledNow })).toMatchObject({ kind: 'go' });
    expect(fetched).toEqual([ORIGIN]);
    // The next page's turn is an interval after this one's; the cancel comes while it waits for it in the process.
    cancelledFrom = deps.now!() + 500;
    expect(await admit(`${ORIGIN}/b`, crawl, deps, { cancelled: cancelledNow })).toEqual({
      kind: 'fail', error: { code: 'CANCELLED', message: 'the crawl was cancelled before this URL was fetched' }, transient: false,
    });
    // Asked again once the turn was here, not only before the wait.
    expect(asked.at(-1)).toBeGreaterThanOrEqual(T0 + 2 * (1_000 + PACE_MARGIN_MS));
  });

  it('asks again once robots.txt is known: a crawl cancelled while its robots.txt was fetched claims no turn for the page', async () => {
    let cancelled = false;
    const { deps } = setup(() => ((cancelled = true), response(404)));
    const crawl = { hostDelayMs: 1_000 };
    expect(await admit(`${ORIGIN}/a`, crawl, deps, { cancelled: async () => cancelled })).toMatchObject({ kind: 'fail', error: { code: 'CANCELLED' } });
    // The next turn after robots.txt's is still free for another crawl's URL.
    expect(await admit(`${ORIGIN}/other`, crawl, deps)).toMatchObject({ kind: 'go', turn: { at: T0 + 1_000 + PACE_MARGIN_MS } });
  });

  it("claims nothing for a crawl already cancelled: no robots.txt, no turn, and no reservation holding the host for other crawls' URLs", async () => {
    const { deps, fetched, now } = setup();
    const crawl = { hostDelayMs: 1_000 };
    const cancelled = async () => true;
    for (let i = 0; i < 5; i++) expect(await admit(`${ORIGIN}/${i}`, crawl, deps, { cancelled })).toMatchObject({ kind: 'fail', error: { code: 'CANCELLED' } });
    expect(fetched).toEqual([]);
    // Another crawl's first URL on the host: robots.txt now, its page one interval later, as if the cancelled URLs had never come.
    expect(await admit(`${ORIGIN}/other`, crawl, deps)).toMatchObject({ kind: 'go', turn: { at: T0 + 1_000 + PACE_MARGIN_MS } });
    expect(fetched).toEqual([ORIGIN]);
    expect(now()).toBe(T0 + 1_000 + PACE_MARGIN_MS);
  });
});

describe('RobotsSource', () => {
  it('releases its lease when the fetch throws, so the next URL fetches robots.txt at once instead of waiting the lease out', async () => {
    const store = new MemoryRobotsStore();
    let fail = true;
    const source = new RobotsSource({
      store,
      fetch: async () => {
        if (fail) throw new Error('the store or the network failed');
        return response(404);
      },
      userAgentToken: TOKEN,
      leaseMs: 60_000,
      now: () => T0,
      sleep: async () => undefined,
    });
    await expect(source.lookup(ORIGIN, async () => ({ kind: 'go' }))).rejects.toThrow('failed');
    expect((await store.get(ORIGIN, T0)).leasedUntil).toBe(0);
    fail = false;
    expect(await source.lookup(ORIGIN, async () => ({ kind: 'go' }))).toMatchObject({ kind: 'known', tookTurn: true });
  });
});

describe('RobotsSource while another process fetches', () => {
  it('sends a URL to come back a second later, not at the end of the fetcher’s lease, when the record is late', async () => {
    let clock = T0;
    const store = new MemoryRobotsStore();
    const source = (fetch: () => Promise<RobotsFetchOutcome>) =>
      new RobotsSource({ store, fetch, userAgentToken: TOKEN, leaseMs: 15_000, now: () => clock, sleep: async (ms) => void (clock += ms) });
    // The fetcher holds the lease; its fetch has not answered yet.
    expect(await store.lease(ORIGIN, 'other-process', T0 + 15_000, T0)).toEqual({ taken: true });
    const waiting = await source(async () => response(404)).lookup(ORIGIN, async () => ({ kind: 'go' }));
    expect(waiting.kind).toBe('wait');
    // It polled for two seconds, then comes back a second later (SQS's shortest delay): well before the lease would run out.
    expect(waiting).toEqual({ kind: 'wait', until: T0 + 2_000 + 1_000 });
  });
});
