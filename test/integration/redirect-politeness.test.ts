import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { politeSummarizer } from '../../cli/polite-fetch.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/index.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { MAX_WAIT_FOR_TURN_MS, processPage } from '../../functions/core/crawl/process-page.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import { DEFAULT_USER_AGENT } from '../../functions/core/fetch/user-agent.js';
import type { CrawlOptions } from '../../functions/core/model/crawl.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';
import type { PageSender } from '../../functions/core/model/ports.js';
import { REDIRECT_WAIT_MS } from '../../functions/core/polite/admission.js';
import { hostKeyOf } from '../../functions/core/polite/pacing-policy.js';
import { startPoliteSite, type PoliteSite } from '../../harness/polite-site.js';
import { startEngines, type Engines } from '../support/engines.js';
import { purgeQueues, startPoliteConsumer } from '../support/polite-consumers.js';

// A redirect is a request too: each hop is admitted as the URL itself was (robots.txt of the hop's origin, a turn on
// the hop's host), in `crawler fetch`'s one process and in the consumers.

let engines: Engines;
const sites: PoliteSite[] = [];

beforeAll(async () => {
  engines = await startEngines({ retry: { baseDelaySeconds: 0, maxDelaySeconds: 1 }, reconcile: { afterSeconds: 900 } });
});
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.close()));
  await purgeQueues(engines);
});
afterAll(async () => {
  await engines?.stop();
});

/** An in-process site (its redirects are answers only this process can give), forgotten by the table as a new host. */
async function site(options: Parameters<typeof startPoliteSite>[0]): Promise<PoliteSite> {
  const s = await startPoliteSite(options);
  sites.push(s);
  const db = createDocumentClient(engines.dynamodb);
  for (const SK of ['#PACE', 'ROBOTS#http']) {
    await db.send(new DeleteCommand({ TableName: engines.resources.tableName, Key: { PK: `HOST#${hostKeyOf(s.url)}`, SK } }));
  }
  return s;
}

const redirect = (location: string) => ({ status: 302, headers: { location } });

function cliFetch(crawl: { hostDelayMs: number }) {
  const settings = { userAgent: DEFAULT_USER_AGENT, hostDelayMs: crawl.hostDelayMs, maxCrawlDelaySeconds: 30 };
  return politeSummarizer({ ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true }, settings, { ...crawl, robotsTxt: 'obey' });
}

describe('crawler fetch admits every redirect', () => {
  it('does not follow a redirect to a path robots.txt disallows, on the same origin or another', async () => {
    const other = await site({ robots: 'User-agent: *\nDisallow: /\n' });
    const s = await site({
      robots: 'User-agent: *\nDisallow: /private/\n',
      answer: (path) => (path === '/in' ? redirect('/private/x') : path === '/out' ? redirect(`${other.url}/page`) : undefined),
    });
    const summarize = cliFetch({ hostDelayMs: 0 });
    const inside = await summarize(`${s.url}/in`);
    const outside = await summarize(`${s.url}/out`);
    expect(inside.error?.code).toBe('ROBOTS_DISALLOWED');
    expect(outside.error?.code).toBe('ROBOTS_DISALLOWED');
    expect(inside.error?.message).toContain(`redirected to ${s.url}/private/x`);
    expect(s.requests.map((r) => r.path)).toEqual(['/robots.txt', '/in', '/out']);
    expect(other.requests.map((r) => r.path)).toEqual(['/robots.txt']);
  });

  it("starts a redirect's hop in its host's turn, as far from the request before it as any other", async () => {
    const s = await site({ answer: (path) => (path === '/moved' ? redirect('/here') : undefined) });
    const summarize = cliFetch({ hostDelayMs: 700 });
    const [moved, next] = await Promise.all([summarize(`${s.url}/moved`), summarize(`${s.url}/next`)]);
    expect(moved).toMatchObject({ ok: true, finalUrl: `${s.url}/here` });
    expect(next.ok).toBe(true);
    const pages = s.of((p) => p !== '/robots.txt');
    expect(pages.map((r) => r.path).sort()).toEqual(['/here', '/moved', '/next']);
    expect(Math.min(...s.gaps((p) => p !== '/robots.txt'))).toBeGreaterThanOrEqual(700);
  });
});

describe('a consumer admits every redirect', () => {
  async function crawlOf(urls: string[], options: Partial<CrawlOptions>): Promise<string> {
    const crawlId = ulid();
    const opts: CrawlOptions = { maxDepth: 0, sameOrigin: true, robotsTxt: 'obey', hostDelayMs: 0, ...options };
    await engines.store.createCrawl(
      { crawlId, status: 'running', total: urls.length, succeeded: 0, failed: 0, createdAt: new Date().toISOString(), options: opts, source: { kind: 'api' } },
      urls,
    );
    return crawlId;
  }

  /** A consumer's dependencies on the real engines, its queue recording what it sends (and sending it). */
  async function deps() {
    // Its politeness dependencies only: the event source that would consume the queue is stopped at once.
    const c = startPoliteConsumer(engines, {});
    await c.source.stop();
    const real = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
    const sent: { messages: readonly PageMessage[]; delaySeconds: number | undefined }[] = [];
    const queue: PageSender = {
      send: (messages, options) => {
        sent.push({ messages, delaySeconds: options?.delaySeconds });
        return real.send(messages, options);
      },
    };
    return { c, sent, deps: { store: engines.store, queue, limits: { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true }, polite: c.polite, retry: { maxAttempts: 3, baseDelaySeconds: 0, maxDelaySeconds: 1 } } };
  }

  it("sends the URL away to wait, using no attempt, when its redirect's host has no turn soon", async () => {
    const target = await site({});
    const s = await site({ answer: (path) => (path === '/moved' ? redirect(`${target.url}/there`) : undefined) });
    const { c, sent, deps: d } = await deps();
    const crawlId = await crawlOf([`${s.url}/moved`], { hostDelayMs: 0 });
    // The target host's next turn is well past what a hop waits for in the process.
    const interval = REDIRECT_WAIT_MS + 10_000;
    expect(await c.polite.pacer.claim(hostKeyOf(target.url), { now: Date.now(), intervalMs: interval })).toMatchObject({ kind: 'start' });
    const message: PageMessage = { crawlId, url: `${s.url}/moved`, depth: 0, maxDepth: 0, sameOrigin: true, attempts: 1 };
    const before = Date.now();
    expect(await processPage(message, d, 2)).toBe('deferred');
    expect(target.requests).toEqual([]);
    expect(await engines.store.hasPage(crawlId, message.url)).toBe(false);
    // Sent again to come back near the target's turn, with the attempts it had (the wait used none), no reservation
    // (its slot is the target's, not its own host's), and when it began to wait.
    expect(sent).toHaveLength(1);
    expect(sent[0]!.delaySeconds).toBeGreaterThanOrEqual(Math.floor(interval / 1000) - 3);
    expect(sent[0]!.messages).toHaveLength(1);
    const again = sent[0]!.messages[0]!;
    expect(again).toMatchObject({ url: message.url, attempts: 1 });
    expect(again.reservation).toBeUndefined();
    expect(again.waitingSince).toBeGreaterThanOrEqual(before);
  });

  it('ends a URL HOST_BUSY once it has waited for turns longer than the bound, instead of waiting for ever', async () => {
    const s = await site({});
    const { c, deps: d } = await deps();
    const crawlId = await crawlOf([`${s.url}/late`], { hostDelayMs: 60_000, robotsTxt: 'ignore' });
    expect(await c.polite.pacer.claim(hostKeyOf(s.url), { now: Date.now(), intervalMs: 60_000 })).toMatchObject({ kind: 'start' });
    const message: PageMessage = { crawlId, url: `${s.url}/late`, depth: 0, maxDepth: 0, sameOrigin: true, waitingSince: Date.now() - MAX_WAIT_FOR_TURN_MS };
    expect(await processPage(message, d, 1)).toBe('recorded');
    const pages = (await engines.store.listPages(crawlId, 10)).items;
    expect(pages.map((p) => [p.url, p.error?.code])).toEqual([[message.url, 'HOST_BUSY']]);
    expect((await engines.store.getCrawl(crawlId))?.status).toBe('completed');
    expect(s.requests).toEqual([]);
  });

  it('fetches nothing for a crawl cancelled while its URL waited in the process for its turn', async () => {
    const s = await site({});
    const { c, deps: d } = await deps();
    const crawlId = await crawlOf([`${s.url}/a`], { hostDelayMs: 1_000, robotsTxt: 'ignore' });
    // The host's next turn is a second away: the URL waits for it in the process, and the crawl is cancelled meanwhile.
    expect(await c.polite.pacer.claim(hostKeyOf(s.url), { now: Date.now(), intervalMs: 1_000 })).toMatchObject({ kind: 'start' });
    const message: PageMessage = { crawlId, url: `${s.url}/a`, depth: 0, maxDepth: 0, sameOrigin: true };
    const outcome = processPage(message, d, 1);
    await sleep(100);
    await engines.store.cancelCrawl(crawlId, new Date().toISOString());
    expect(await outcome).toBe('recorded');
    const pages = (await engines.store.listPages(crawlId, 10)).items;
    expect(pages.map((p) => p.error?.code)).toEqual(['CANCELLED']);
    expect(s.requests).toEqual([]);
  });
});
