import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoHostPacer, MAX_CONFLICTS } from '../../functions/adapters/dynamodb/host-pace.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/index.js';
import { hostPaceKey } from '../../functions/adapters/dynamodb/keys.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { processPage } from '../../functions/core/crawl/process-page.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import { DEFAULT_USER_AGENT } from '../../functions/core/fetch/user-agent.js';
import type { CrawlOptions } from '../../functions/core/model/crawl.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import type { Summary } from '../../functions/core/model/summary.js';
import { CANCEL_SETTLE_MS, hostKeyOf, MAX_DELAY_SECONDS, PACE_MARGIN_MS, RETURN_WAIT_MS, type PaceState } from '../../functions/core/polite/pacing-policy.js';
import type { Turn } from '../../functions/core/polite/ports.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startPoliteSite, type RecordingSite } from '../../harness/polite-site.js';
import { startPoliteSiteProcess, type PoliteSiteProcessOptions } from '../../harness/polite-site-process.js';
import { startEngines, type Engines } from '../support/engines.js';
import { deadLetters, purgeQueues, startPoliteConsumer, type PoliteConsumer } from '../support/polite-consumers.js';

let engines: Engines;
const consumers: PoliteConsumer[] = [];
const sites: RecordingSite[] = [];

beforeAll(async () => {
  // Two receives before the DLQ: a URL whose waits counted as attempts would land there.
  engines = await startEngines({ queue: { maxReceiveCount: 2 }, retry: { baseDelaySeconds: 0, maxDelaySeconds: 1 }, reconcile: { afterSeconds: 900 } });
});
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.source.stop()));
  await Promise.all(sites.splice(0).map((s) => s.close()));
  await purgeQueues(engines);
});
afterAll(async () => {
  await engines?.stop();
});

/**
 * A loopback site recording its requests: in a process of its own (its clock and event loop not held up by the
 * consumers in this one) unless it needs answers only this process can give.
 */
async function site(options: PoliteSiteProcessOptions | Parameters<typeof startPoliteSite>[0], inProcess = false): Promise<RecordingSite> {
  const s = inProcess ? await startPoliteSite(options as Parameters<typeof startPoliteSite>[0]) : await startPoliteSiteProcess(options as PoliteSiteProcessOptions);
  sites.push(s);
  // A port an earlier test's site had: its host's pace and robots.txt are forgotten, as for a new host.
  const db = createDocumentClient(engines.dynamodb);
  for (const SK of ['#PACE', 'ROBOTS#http']) {
    await db.send(new DeleteCommand({ TableName: engines.resources.tableName, Key: { PK: `HOST#${hostKeyOf(s.url)}`, SK } }));
  }
  return s;
}

function consumer(options: Parameters<typeof startPoliteConsumer>[1] = {}): PoliteConsumer {
  const c = startPoliteConsumer(engines, { retry: { maxAttempts: 2, baseDelaySeconds: 0, maxDelaySeconds: 1 }, ...options });
  consumers.push(c);
  return c;
}

/** Records a crawl with these options and queues its seeds, as submit does. */
async function crawl(urls: string[], options: Partial<CrawlOptions>): Promise<string> {
  const crawlId = ulid();
  const opts: CrawlOptions = { maxDepth: 0, sameOrigin: true, robotsTxt: 'obey', hostDelayMs: 1_000, ...options };
  await engines.store.createCrawl(
    { crawlId, status: 'running', total: urls.length, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options: opts, source: { kind: 'api' } },
    urls,
  );
  const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
  const unsent = await queue.send(urls.map((url) => ({ crawlId, url, depth: 0, maxDepth: opts.maxDepth, sameOrigin: true })));
  expect(unsent).toEqual([]);
  return crawlId;
}

async function completed(crawlId: string, timeoutMs = 60_000): Promise<Summary[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await engines.store.getCrawl(crawlId);
    if (c?.status === 'completed') break;
    if (Date.now() > deadline) throw new Error(`crawl ${crawlId} not completed: ${JSON.stringify(c)}`);
    await sleep(100);
  }
  return (await engines.store.listPages(crawlId, 1000)).items;
}

const ROBOTS = 'User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n';

describe('politeness across consumers, on the real engines', () => {
  it('obeys robots.txt, fetches it once per origin for two consumers and two crawls, and keeps Crawl-delay between every start', async () => {
    const s = await site({ robots: ROBOTS });
    consumer();
    consumer();
    const a = await crawl([...[0, 1, 2, 3, 4].map((n) => `${s.url}/page/${n}`), `${s.url}/private/1`, `${s.url}/private/2`], { hostDelayMs: 0 });
    const b = await crawl([...[5, 6, 7].map((n) => `${s.url}/page/${n}`), `${s.url}/private/3`], { hostDelayMs: 0 });
    const [pagesA, pagesB] = await Promise.all([completed(a), completed(b)]);
    await s.sync();

    expect(s.of((p) => p.startsWith('/private/'))).toEqual([]);
    const disallowed = [...pagesA, ...pagesB].filter((p) => p.url.includes('/private/'));
    expect(disallowed.map((p) => p.error?.code)).toEqual(['ROBOTS_DISALLOWED', 'ROBOTS_DISALLOWED', 'ROBOTS_DISALLOWED']);
    expect(disallowed.every((p) => p.status === null && p.ok === false)).toBe(true);
    expect([...pagesA, ...pagesB].filter((p) => p.ok)).toHaveLength(8);
    expect(s.of((p) => p === '/robots.txt')).toHaveLength(1);
    // Crawl-delay: 1 for every request to the host, robots.txt included, measured where the site sees them.
    expect(s.requests).toHaveLength(9);
    expect(Math.min(...s.gaps())).toBeGreaterThanOrEqual(1_000);
    expect(s.requests.every((r) => r.userAgent === DEFAULT_USER_AGENT && r.inFlight === 1)).toBe(true);
    expect(await deadLetters(engines)).toBe(0);
  });

  it('never starts two requests to one host closer than hostDelayMs, across two consumers; waiting URLs keep their attempts and never reach the DLQ', async () => {
    const s = await site({});
    const one = consumer({ pageConcurrency: 6 });
    const two = consumer({ pageConcurrency: 6 });
    const urls = Array.from({ length: 10 }, (_, n) => `${s.url}/p/${n}`);
    const id = await crawl(urls, { hostDelayMs: 700, robotsTxt: 'ignore' });
    const pages = await completed(id);
    await s.sync();
    expect(pages.filter((p) => p.ok)).toHaveLength(10);
    expect(s.requests).toHaveLength(10);
    const gaps = s.gaps();
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(700);
    const deliveries = [...one.deliveries, ...two.deliveries];
    const deferred = deliveries.filter((d) => d.outcome === 'deferred');
    expect(deferred.length).toBeGreaterThan(0);
    // maxReceiveCount is 2: the URLs waited more often than that, each wait a new message, and none was dead-lettered.
    expect(deliveries.filter((d) => d.message.reservation !== undefined).every((d) => d.attempt === 1)).toBe(true);
    expect(Math.max(...urls.map((u) => deliveries.filter((d) => d.message.url === u).length))).toBeGreaterThanOrEqual(2);
    expect(await deadLetters(engines)).toBe(0);
  });

  it('keeps the attempts a URL used in the message it sends to the turn queue to wait for its turn', async () => {
    const s = await site({});
    const c = startPoliteConsumer(engines, {});
    await c.source.stop();
    const id = ulid();
    const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    await engines.store.createCrawl(
      { crawlId: id, status: 'running', total: 1, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options: { maxDepth: 0, sameOrigin: true, hostDelayMs: 5_000, robotsTxt: 'ignore' }, source: { kind: 'api' } },
      [`${s.url}/b`],
    );
    const turnQueue = new SqsPageQueue({ queueUrl: engines.resources.turnQueueUrl, client: engines.sqs });
    const deps = { store: engines.store, queue, turnQueue, limits: { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true }, polite: c.polite, retry: { maxAttempts: 5, baseDelaySeconds: 0, maxDelaySeconds: 1 } };
    // Another request has just taken the host's turn.
    expect(await c.polite.pacer.claim(hostKeyOf(s.url), { now: Date.now(), intervalMs: 5_000 })).toMatchObject({ kind: 'start' });
    const message: PageMessage = { crawlId: id, url: `${s.url}/b`, depth: 0, maxDepth: 0, sameOrigin: true, attempts: 2 };
    // Its 4th attempt (2 earlier + this 2nd receive) finds the host's turn 5 s away: sent again, attempts 3.
    expect(await processPage(message, deps, 4)).toBe('deferred');
    await sleep(4_200);
    // On the turn queue, not behind whatever the page queue holds.
    const onPageQueue = await engines.sqs.send(new ReceiveMessageCommand({ QueueUrl: engines.resources.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    expect(onPageQueue.Messages ?? []).toEqual([]);
    const out = await engines.sqs.send(new ReceiveMessageCommand({ QueueUrl: engines.resources.turnQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
    const back = (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as PageMessage);
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ url: `${s.url}/b`, attempts: 3 });
    expect(back[0]!.reservation).toBeGreaterThan(Date.now() - 2_000);
    await s.sync();
    expect(s.of((p) => p === '/b')).toEqual([]);
  });

  it("ends a cancelled crawl's URL that comes back for its reserved slot CANCELLED, and releases its host's queue for other crawls", async () => {
    // Long enough that no turn here comes while the test runs, however slow the machine.
    const INTERVAL = 30_000;
    const s = await site({});
    const c = startPoliteConsumer(engines, {});
    await c.source.stop();
    const host = hostKeyOf(s.url);
    const id = ulid();
    const urls = [1, 2, 3].map((n) => `${s.url}/cancelled/${n}`);
    const options = { maxDepth: 0, sameOrigin: true, hostDelayMs: INTERVAL, robotsTxt: 'ignore' as const };
    await engines.store.createCrawl({ crawlId: id, status: 'running', total: 3, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options, source: { kind: 'api' } }, urls);
    const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    const deps = { store: engines.store, queue, limits: { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true }, polite: c.polite };
    // A request has just taken the host's turn, and the crawl's three URLs queued behind it, an interval apart.
    const first = await c.polite.pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL });
    if (first.kind !== 'start') throw new Error(`expected a start, got ${first.kind}`);
    const slots: number[] = [];
    for (const _ of urls) {
      const turn = await c.polite.pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL });
      if (turn.kind !== 'later' || !turn.held) throw new Error(`expected a reservation, got ${JSON.stringify(turn)}`);
      slots.push(turn.at);
    }
    // Cancelled long enough ago for every consumer to know; the first URL comes back for its slot.
    await engines.store.cancelCrawl(id, new Date(Date.now() - 60_000).toISOString());
    const message: PageMessage = { crawlId: id, url: urls[0]!, depth: 0, maxDepth: 0, sameOrigin: true, reservation: slots[0]! };
    expect(await processPage(message, deps, 1)).toBe('recorded');
    expect((await engines.store.listPages(id, 10)).items[0]).toMatchObject({ url: urls[0], ok: false, error: { code: 'CANCELLED' } });
    // Another crawl's new URL on the host gets the turn after the start, not one behind the cancelled crawl's queue.
    const other = await new DynamoHostPacer({ db: createDocumentClient(engines.dynamodb), name: engines.resources.tableName }).claim(host, { now: Date.now(), intervalMs: INTERVAL });
    expect(other).toMatchObject({ kind: 'later', at: first.at + INTERVAL + PACE_MARGIN_MS });
    await s.sync();
    expect(s.of((p) => p.startsWith('/cancelled/'))).toEqual([]);
  });

  it('retries while robots.txt answers 5xx and fails the URL ROBOTS_UNREACHABLE on its last attempt, fetching nothing else', async () => {
    const s = await site({ robots: { status: 503, body: 'down' } });
    consumer({ retry: { maxAttempts: 2, baseDelaySeconds: 0, maxDelaySeconds: 1 } });
    const id = await crawl([`${s.url}/a`, `${s.url}/b`], { hostDelayMs: 0 });
    const pages = await completed(id);
    await s.sync();
    expect(pages.map((p) => p.error?.code)).toEqual(['ROBOTS_UNREACHABLE', 'ROBOTS_UNREACHABLE']);
    expect(pages[0]!.error!.message).toMatch(/answered 503.*\(2 attempts\)/);
    expect(s.requests.every((r) => r.path === '/robots.txt')).toBe(true);
    expect(await deadLetters(engines)).toBe(0);
  });

  it('slows a host that answers 429 and speeds back up as it recovers (AutoThrottle)', async () => {
    // The first request answers 429, every later one 200; one page at a time, so the order is the site's.
    const s = await site({ answer: () => (s.requests.length === 1 ? { status: 429, body: 'slow down' } : undefined) }, true);
    const c = consumer({ retry: { maxAttempts: 2, baseDelaySeconds: 1, maxDelaySeconds: 1 }, pageConcurrency: 1 });
    const urls = Array.from({ length: 9 }, (_, n) => `${s.url}/q/${n}`);
    const pages = await completed(await crawl(urls, { hostDelayMs: 0, robotsTxt: 'ignore' }));
    expect(pages.filter((p) => p.ok)).toHaveLength(9);
    expect(s.requests).toHaveLength(10);
    const gaps = s.gaps();
    // Slowed: 1 s after the 429 (though the crawl asked for no delay), then less after each good answer…
    expect(gaps[0]).toBeGreaterThanOrEqual(1_000);
    expect(gaps[1]).toBeGreaterThanOrEqual(750);
    expect(gaps[2]).toBeGreaterThanOrEqual(562);
    // …and recovered: no penalty left, the last pages as fast as they come.
    const host = hostKeyOf(s.url);
    const item = await createDocumentClient(engines.dynamodb).send(new GetCommand({ TableName: engines.resources.tableName, Key: { PK: `HOST#${host}`, SK: '#PACE' } }));
    expect(item.Item?.['penaltyMs']).toBe(0);
    expect(c.polite.pacer.knownPenaltyMs(host)).toBe(0);
    expect(Math.max(...gaps.slice(-2))).toBeLessThan(300);
  });
});

describe("a host's pace in DynamoDB, claimed by several consumers", () => {
  const INTERVAL_MS = 2_000;
  const I = INTERVAL_MS + PACE_MARGIN_MS;
  const table = () => ({ db: createDocumentClient(engines.dynamodb), name: engines.resources.tableName });
  const paceItem = async (host: string) =>
    (await table().db.send(new GetCommand({ TableName: engines.resources.tableName, Key: hostPaceKey(host) }))).Item!;
  /** The host's item as another consumer left it. */
  const putPace = (host: string, state: PaceState) =>
    table().db.send(new PutCommand({ TableName: engines.resources.tableName, Item: { ...hostPaceKey(host), ...state } }));
  /** Another consumer's write of one field of the host's item. */
  const setField = (host: string, field: string, value: number) =>
    table().db.send(
      new UpdateCommand({ TableName: engines.resources.tableName, Key: hostPaceKey(host), UpdateExpression: `SET ${field} = :value`, ExpressionAttributeValues: { ':value': value } }),
    );
  const slotOf = (turn: Turn) => {
    expect(turn.kind).toBe('later');
    return turn.at;
  };

  /** A consumer's pacer on a client of its own, counting the conditional writes it sends (and running `before` first). */
  function countingPacer(before?: () => Promise<unknown>): { pacer: DynamoHostPacer; writes: () => number } {
    const client = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: engines.dynamodb.config.endpoint });
    let writes = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') {
          writes++;
          await before?.();
        }
        return next(args);
      },
      { step: 'initialize', name: 'countWrites' },
    );
    return { pacer: new DynamoHostPacer({ db: createDocumentClient(client), name: engines.resources.tableName }), writes: () => writes };
  }

  it('queues new URLs on a busy host without changing its version, so a start planned before them commits at once', async () => {
    const host = `queue-${ulid().toLowerCase()}.test:80`;
    const one = countingPacer();
    const two = new DynamoHostPacer(table());
    expect(await one.pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS })).toMatchObject({ kind: 'start' });
    const version = (await paceItem(host))['version'];
    const first = slotOf(await two.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS }));
    slotOf(await one.pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS }));
    const later = [];
    for (let n = 0; n < 3; n++) later.push(slotOf(await two.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS })));
    expect((await paceItem(host))['version']).toBe(version);
    // The first URL comes back for its slot (a second early) to the consumer that has not seen the last three queue:
    // one write, no conflict.
    const writes = one.writes();
    expect(await one.pacer.claim(host, { now: first - 1_000, intervalMs: INTERVAL_MS, reservation: first })).toEqual({ kind: 'start', at: first, version: version + 1 });
    expect(one.writes() - writes).toBe(1);
    expect((await paceItem(host))['tail']).toBe(later.at(-1)! + I);
  });

  it("makes one process's claims on one host one after another: a batch of a site's links takes one write each, in turns an interval apart", async () => {
    const host = `line-${ulid().toLowerCase()}.test:80`;
    // Long enough that only the first turn is near enough to wait for, however slow the writes.
    const intervalMs = 10_000;
    const gap = intervalMs + PACE_MARGIN_MS;
    const one = countingPacer();
    const turns = await Promise.all(Array.from({ length: 12 }, () => one.pacer.claim(host, { now: Date.now(), intervalMs })));
    // Made at once, each would be planned on the same state: all but one conflict, round after round.
    expect(one.writes()).toBe(12);
    const slots = turns.map((turn) => turn.at).sort((a, b) => a - b);
    expect(turns.filter((turn) => turn.kind === 'start')).toHaveLength(1);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(gap);
    expect((await paceItem(host))['tail']).toBe(slots.at(-1)! + gap);
  });

  it('lets a URL back for the slot it holds claim its start without waiting behind the new URLs in line', async () => {
    const host = `line-return-${ulid().toLowerCase()}.test:80`;
    const intervalMs = 10_000;
    const gap = intervalMs + PACE_MARGIN_MS;
    const now = Date.now();
    // A host whose next reservation, due in a second, is the returning URL's; its queue runs on past it.
    const slot = now + 1_000;
    await putPace(host, { lastStart: now - 1_000 - gap, nextStart: now - 1_000, startInterval: gap, tail: slot + gap, tailInterval: gap, penaltyMs: 0, version: 1 });
    const pacer = new DynamoHostPacer(table());
    const resolved: string[] = [];
    const newUrls = Array.from({ length: 8 }, (_, i) => pacer.claim(host, { now, intervalMs }).then((turn) => (resolved.push(`new ${i}`), turn)));
    const returning = pacer.claim(host, { now, intervalMs, reservation: slot }).then((turn) => (resolved.push('returning'), turn));
    expect(await returning).toMatchObject({ kind: 'start', at: slot });
    await Promise.all(newUrls);
    expect(resolved.indexOf('returning')).toBeLessThan(resolved.indexOf('new 7'));
  });

  it('commits a start planned on a stale view of an idle host in one write if its slot is still free, and never one within an interval of a start committed since', async () => {
    const host = `stale-${ulid().toLowerCase()}.test:80`;
    // Long enough that the last claim is planned well within an interval of the start before it, however slow the
    // writes; short enough that every turn here is waited for in the process (a start).
    const intervalMs = 1_000;
    const gap = intervalMs + PACE_MARGIN_MS;
    const one = countingPacer();
    const two = countingPacer();
    const first = await one.pacer.claim(host, { now: Date.now(), intervalMs });
    if (first.kind !== 'start') throw new Error(`expected a start, got ${first.kind}`);
    // The host is idle again by the time each of the next claims is planned: `one` saw it idle (its start was at once).
    await sleep(first.at + gap - Date.now() + 20);
    const second = await two.pacer.claim(host, { now: Date.now(), intervalMs });
    if (second.kind !== 'start') throw new Error(`expected a start, got ${second.kind}`);
    expect(second.at - first.at).toBeGreaterThanOrEqual(gap);
    await sleep(second.at + gap - Date.now() + 20);
    // `one` has not seen `second`; asked for a slot past it, it commits in one write, on the fields, not the version.
    let writes = one.writes();
    const third = await one.pacer.claim(host, { now: Date.now(), intervalMs });
    expect(one.writes() - writes).toBe(1);
    if (third.kind !== 'start') throw new Error(`expected a start, got ${third.kind}`);
    expect(third.at - second.at).toBeGreaterThanOrEqual(gap);
    // `two` has not seen `third`, and saw the host idle: the slot it plans (at once) is taken, so its first write fails
    // and the second commits after it.
    writes = two.writes();
    const fourth = await two.pacer.claim(host, { now: Date.now(), intervalMs });
    expect(two.writes() - writes).toBe(2);
    if (fourth.kind !== 'start') throw new Error(`expected a start, got ${fourth.kind}`);
    expect(fourth.at - third.at).toBeGreaterThanOrEqual(gap);
    expect(await paceItem(host)).toMatchObject({ lastStart: fourth.at, nextStart: fourth.at + gap, version: 4 });
  });

  /**
   * A host with its next start `aheadMs` from now (nothing reserved, no penalty), and a consumer that has just taken
   * that start (so it remembers the host busy): what it committed, and the consumer.
   */
  async function busyHost(name: string, intervalMs: number, aheadMs = 1_000) {
    const host = `${name}-${ulid().toLowerCase()}.test:80`;
    const gap = intervalMs + PACE_MARGIN_MS;
    const next = Date.now() + aheadMs;
    await putPace(host, { lastStart: next - gap, nextStart: next, startInterval: gap, tail: next, tailInterval: gap, penaltyMs: 0, version: 1 });
    const consumer = countingPacer();
    const first = await consumer.pacer.claim(host, { now: Date.now(), intervalMs });
    if (first.kind !== 'start' || first.at !== next) throw new Error(`expected the start at ${next}, got ${JSON.stringify(first)}`);
    return { host, gap, first, consumer };
  }

  it("starts a new URL on a host it saw busy at the host's next start in one write, however many starts other consumers committed since", async () => {
    const intervalMs = 100;
    const { host, gap, first, consumer: one } = await busyHost('busy', intervalMs);
    // Three more starts by another consumer, which `one` does not see; by its next claim, the next start it saw is past.
    const two = new DynamoHostPacer(table());
    const others = [];
    for (let n = 0; n < 3; n++) others.push(await two.claim(host, { now: Date.now(), intervalMs }));
    await sleep(first.at + gap - Date.now() + 10);
    const writes = one.writes();
    const next = await one.pacer.claim(host, { now: Date.now(), intervalMs });
    expect(one.writes() - writes).toBe(1);
    const last = others.at(-1)!;
    if (last.kind !== 'start' || next.kind !== 'start') throw new Error(`expected starts, got ${last.kind} and ${next.kind}`);
    expect(next.at).toBe(last.at + gap);
    expect(await paceItem(host)).toMatchObject({ lastStart: next.at, nextStart: next.at + gap, tail: next.at + gap, version: 6 });
  });

  it('takes a host seen busy long ago for quiet: a start planned on its memory, one write', async () => {
    const { host, first, consumer } = await busyHost('busy-long-ago', 100);
    // A minute on (the claim's clock says so; DynamoDB compares only the numbers), the host's next start is long past.
    const writes = consumer.writes();
    const turn = await consumer.pacer.claim(host, { now: first.at + 60_000, intervalMs: 100 });
    expect(turn).toMatchObject({ kind: 'start' });
    expect(consumer.writes() - writes).toBe(1);
  });

  it("starts a new URL on a busy host after the host's reservations, not at its next start", async () => {
    const { host, gap, first, consumer } = await busyHost('busy-queued', 300, 300);
    // Another consumer queues a URL for the next start.
    await setField(host, 'tail', first.at + 2 * gap);
    expect(await consumer.pacer.claim(host, { now: Date.now(), intervalMs: 300 })).toMatchObject({ kind: 'start', at: first.at + 2 * gap });
  });

  it('starts a new URL that asks a longer interval than the last start its interval after it, not at the next start', async () => {
    const { host, first, consumer } = await busyHost('busy-longer', 300, 300);
    // The last URL queued there asked a longer interval still (its slot is past): only the last start's is shorter.
    await setField(host, 'tailInterval', 2_000);
    const turn = await consumer.pacer.claim(host, { now: Date.now(), intervalMs: 600 });
    expect(turn.at).toBe(first.at + 600 + PACE_MARGIN_MS);
  });

  it("keeps a host's penalty raised since this consumer saw it: no start at the next start", async () => {
    const { host, first, consumer } = await busyHost('busy-slowed', 300, 300);
    // Another consumer's request was answered 429: the host's penalty is raised (its next start stays where it was).
    await setField(host, 'penaltyMs', 1_000);
    const turn = await consumer.pacer.claim(host, { now: Date.now(), intervalMs: 300 });
    expect(turn.at).toBe(first.at + 1_000 + PACE_MARGIN_MS);
  });

  it('conditions a turn that moves the tail on the tail it saw, so it never undoes a reservation queued since', async () => {
    const host = `tail-${ulid().toLowerCase()}.test:80`;
    const one = new DynamoHostPacer(table());
    const two = new DynamoHostPacer(table());
    expect(await one.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS })).toMatchObject({ kind: 'start' });
    const slots = [];
    for (let n = 0; n < 3; n++) slots.push(slotOf(await two.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS })));
    // `one` saw the tail end at the first slot: its start there would move the tail, as far as it knows.
    expect(await one.claim(host, { now: slots[0]! - 1_000, intervalMs: INTERVAL_MS, reservation: slots[0] })).toMatchObject({ kind: 'start', at: slots[0] });
    expect((await paceItem(host))['tail']).toBe(slots[2]! + I);
    const next = slotOf(await new DynamoHostPacer(table()).claim(host, { now: Date.now(), intervalMs: INTERVAL_MS }));
    expect(next).toBe(slots[2]! + I);
  });

  it("releases a cancelled crawl's queue once the cancel has settled, and not what other crawls queued after that", async () => {
    // Long enough that every claim here is a reservation, however slow the machine.
    const LONG = 30_000;
    const LONG_I = LONG + PACE_MARGIN_MS;
    const host = `cancelled-${ulid().toLowerCase()}.test:80`;
    const pacer = new DynamoHostPacer(table());
    expect(await pacer.claim(host, { now: Date.now(), intervalMs: LONG })).toMatchObject({ kind: 'start' });
    for (let n = 0; n < 5; n++) slotOf(await pacer.claim(host, { now: Date.now(), intervalMs: LONG }));
    const queued = await paceItem(host);
    expect(queued['tail']).toBe(queued['nextStart'] + 5 * LONG_I);
    // A URL of the cancelled crawl is back, on another consumer: the queue goes back to the starts, the version stays.
    const cancelledAt = Date.now() - CANCEL_SETTLE_MS - 1_000;
    await new DynamoHostPacer(table()).releaseReservations(host, cancelledAt);
    expect(await paceItem(host)).toMatchObject({ tail: queued['nextStart'], nextStart: queued['nextStart'], version: queued['version'] });
    // Another crawl's URLs queue from there; the cancelled crawl's next URL back releases none of them.
    const others = [];
    for (let n = 0; n < 2; n++) others.push(slotOf(await pacer.claim(host, { now: Date.now(), intervalMs: LONG })));
    expect(others).toEqual([queued['nextStart'], queued['nextStart'] + LONG_I]);
    await new DynamoHostPacer(table()).releaseReservations(host, cancelledAt);
    expect((await paceItem(host))['tail']).toBe(queued['nextStart'] + 2 * LONG_I);
    // A crawl cancelled since releases them.
    await new DynamoHostPacer(table()).releaseReservations(host, Date.now());
    expect((await paceItem(host))['tail']).toBe(queued['nextStart']);

    // On a host with nothing queued when the first URL of the cancelled crawl is back, the release is kept all the same:
    // what another crawl queues after it is not released by the crawl's next URL back.
    const quiet = `cancelled-quiet-${ulid().toLowerCase()}.test:80`;
    expect(await pacer.claim(quiet, { now: Date.now(), intervalMs: LONG })).toMatchObject({ kind: 'start' });
    await new DynamoHostPacer(table()).releaseReservations(quiet, cancelledAt);
    for (let n = 0; n < 2; n++) slotOf(await pacer.claim(quiet, { now: Date.now(), intervalMs: LONG }));
    const later = (await paceItem(quiet))['tail'];
    await new DynamoHostPacer(table()).releaseReservations(quiet, cancelledAt);
    expect((await paceItem(quiet))['tail']).toBe(later);
  });

  it(`reserves no slot further ahead than the longest SQS delay, however stale the consumer's view of the tail`, async () => {
    const host = `horizon-${ulid().toLowerCase()}.test:80`;
    const now = Date.now();
    await putPace(host, { lastStart: now, nextStart: now + I, startInterval: I, tail: now + 600_000, tailInterval: I, penaltyMs: 0, version: 3 });
    const pacer = new DynamoHostPacer(table());
    expect(slotOf(await pacer.claim(host, { now, intervalMs: INTERVAL_MS }))).toBe(now + 600_000);
    // Since, other consumers have queued URLs up to the longest delay by their clocks, one of which runs a minute ahead:
    // this consumer's next append, planned on the tail it last saw, is refused by its condition.
    const full = now + MAX_DELAY_SECONDS * 1000 + 60_000;
    await table().db.send(new UpdateCommand({ TableName: engines.resources.tableName, Key: hostPaceKey(host), UpdateExpression: 'SET tail = :full', ExpressionAttributeValues: { ':full': full } }));
    const told = await pacer.claim(host, { now: Date.now(), intervalMs: INTERVAL_MS });
    expect((await paceItem(host))['tail']).toBe(full);
    // It holds nothing: when SQS brings it back, after the longest delay, it queues again.
    expect(told).toMatchObject({ kind: 'later', held: false });
    // (A claim is planned as of when its write will have come back: a round trip or so past the clock here.)
    expect(told.at - Date.now()).toBeLessThanOrEqual(MAX_DELAY_SECONDS * 1000 + 1_000);
  });

  it('answers a claim that keeps conflicting with a wait a moment out, committing nothing, instead of failing the page', async () => {
    const host = `conflicts-${ulid().toLowerCase()}.test:80`;
    // Intervals this short are waited for in the process: every claim is a start, committed on the version.
    const intervalMs = 1_000;
    const plain = new DynamoHostPacer(table());
    expect(await plain.claim(host, { now: Date.now(), intervalMs })).toMatchObject({ kind: 'start' });
    // Another consumer commits a turn right before each of this one's writes.
    const rival = () =>
      table().db.send(new UpdateCommand({ TableName: engines.resources.tableName, Key: hostPaceKey(host), UpdateExpression: 'SET version = version + :one', ExpressionAttributeValues: { ':one': 1 } }));
    const contended = countingPacer(rival);
    const before = await paceItem(host);
    const asked = Date.now();
    const turn = await contended.pacer.claim(host, { now: asked, intervalMs });
    expect(contended.writes()).toBe(MAX_CONFLICTS);
    // A new URL (it held no slot): it comes back as new.
    expect(turn).toMatchObject({ kind: 'later', held: false });
    expect(turn.at - asked).toBeGreaterThan(0);
    expect(turn.at - Date.now()).toBeLessThanOrEqual(RETURN_WAIT_MS);
    const after = await paceItem(host);
    expect(after).toEqual({ ...before, version: (before['version'] as number) + MAX_CONFLICTS });
  });
});
