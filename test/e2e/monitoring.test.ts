import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, waitForCompletion } from '../../harness/api.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

/**
 * Events and webhooks through the local stack: the table's stream, the publish function, the EventBridge stand-in, the
 * webhook delivery queue and the deliver function, each as it runs on AWS. The receiver verifies every signature with
 * the deployment's secret, fails each delivery twice (500) and takes it the third time, counting each id once.
 */
const config = parseCrawlerConfig({
  // A loopback site of our own: no pacing between its requests.
  politeness: { hostDelayMs: 0, maxThrottleMs: 0 },
  // Retries a second or two apart instead of the hour-long schedule.
  webhooks: { retryBaseSeconds: 1 },
});

interface Received {
  id: string;
  type: string;
  event: string | undefined;
  delivery: string | undefined;
  signed: boolean;
  body: { id: string; type: string; createdAt: string; data: any };
  status: number;
}

let stack: LocalStack;
let site: LoopbackServer;
let receiver: LoopbackServer;
const stackLog: string[] = [];
/** Every POST the receiver got, in order. */
const received: Received[] = [];
/** The delivery ids the receiver took (answered 200): each event once, however often it came. */
const accepted = new Map<string, Received>();
/** The text of /doc, which the second crawl finds changed. */
let docText = 'The first version of the document.';
/** Texts of the scheduled run's pages, by path (others: "Page <path>"). */
const pageTexts = new Map<string, string>();

function signatureHolds(raw: Buffer, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', stack.webhookSecret).update(raw).digest('hex')}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  site = await startLoopbackServer((req, res) => {
    const text = req.url === '/doc' ? docText : (pageTexts.get(req.url!) ?? `Page ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!DOCTYPE html><html><head><title>Doc</title></head><body><p>${text}</p></body></html>`);
  });
  receiver = await startLoopbackServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8')) as Received['body'];
      const attempts = received.filter((r) => r.id === body.id).length + 1;
      const signed = signatureHolds(raw, req.headers['x-crawler-signature'] as string | undefined);
      const status = !signed ? 401 : attempts <= 2 && !accepted.has(body.id) ? 500 : 200;
      const entry: Received = {
        id: body.id,
        type: body.type,
        event: req.headers['x-crawler-event'] as string | undefined,
        delivery: req.headers['x-crawler-delivery'] as string | undefined,
        signed,
        body,
        status,
      };
      received.push(entry);
      if (status === 200 && !accepted.has(body.id)) accepted.set(body.id, entry);
      res.writeHead(status).end();
    });
  });
  stack = await startLocalStack({ config, port: 0, log: (line) => stackLog.push(line), webhookSecret: 'e2e-webhook-secret' });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await Promise.all([site?.close(), receiver?.close()]);
});

async function crawl(paths: string[], events: string[]): Promise<string> {
  const { status, body } = await call(stack.apiUrl, 'POST', '/crawls', {
    urls: paths.map((path) => `${site.url}${path}`),
    webhook: { url: `${receiver.url}/hook`, events },
  });
  expect(status, JSON.stringify(body)).toBe(202);
  await waitForCompletion(stack.apiUrl, body.crawlId, 60_000);
  return body.crawlId as string;
}

async function acceptedFor(crawlId: string, type: string): Promise<Received> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = [...accepted.values()].find((r) => r.type === type && r.body.data.crawlId === crawlId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${type} delivery accepted for crawl ${crawlId}; received ${JSON.stringify(received.map((r) => [r.type, r.status]))}\n${stackLog.join('\n')}`);
    await sleep(100);
  }
}

describe('events and webhooks', () => {
  it('puts Crawl Completed on the bus and delivers crawl.completed, signed, again after two failures, under one id', async () => {
    const crawlId = await crawl(['/one', '/two'], ['crawl.completed']);
    const delivery = await acceptedFor(crawlId, 'crawl.completed');
    const { body: view } = await call(stack.apiUrl, 'GET', `/crawls/${crawlId}`);

    expect(delivery.body.data).toEqual(view);
    expect(delivery).toMatchObject({ event: 'crawl.completed', delivery: delivery.id, signed: true });
    // Two 500s, then the 200: the same delivery POSTed again, each time signed (a copy after that, at least once, is
    // taken as the one already handled).
    const attempts = received.filter((r) => r.id === delivery.id);
    expect(attempts.map((r) => r.status).slice(0, 3)).toEqual([500, 500, 200]);
    expect(attempts.slice(3).every((r) => r.status === 200)).toBe(true);
    expect([...accepted.values()].filter((r) => r.type === 'crawl.completed' && r.body.data.crawlId === crawlId)).toHaveLength(1);
    expect(attempts.every((r) => r.signed && r.delivery === delivery.id)).toBe(true);

    const onBus = stack.eventBus.events.filter((e) => (e.detail as { crawlId?: string }).crawlId === crawlId);
    expect(onBus.map((e) => [e.source, e.detailType])).toEqual([['serverless-crawler', 'Crawl Completed']]);
    expect(onBus[0]!.detail).toEqual(view);
    expect(stackLog.filter((line) => line.startsWith('event Crawl Completed') && line.includes(crawlId))).toHaveLength(1);
  });

  it('turns a page whose text changed since the last crawl into one Page Changed and a page.changed delivery', async () => {
    const first = await crawl(['/doc'], ['page.changed']);
    docText = 'The second version of the document, rewritten.';
    const second = await crawl(['/doc'], ['page.changed']);
    const delivery = await acceptedFor(second, 'page.changed');

    const changed = stack.eventBus.events.filter((e) => e.detailType === 'Page Changed');
    expect(changed.map((e) => (e.detail as { crawlId: string }).crawlId)).toEqual([second]);
    const detail = changed[0]!.detail as { url: string; changedFields: string[]; previous: { crawlId: string }; summary: { change: string } };
    expect(detail).toMatchObject({ url: `${site.url}/doc`, changedFields: ['text'], previous: { crawlId: first }, summary: { change: 'changed' } });
    expect(delivery.body.data).toEqual(detail);
    expect(delivery).toMatchObject({ event: 'page.changed', signed: true });
    // The first crawl found the page new: nothing to deliver for it.
    expect([...accepted.values()].filter((r) => r.body.data.crawlId === first)).toEqual([]);
  });

  it("lists a schedule's two runs under its name, the second marking exactly the pages that changed, each delivered", async () => {
    const paths = ['/watch/a', '/watch/b', '/watch/c'];
    pageTexts.set('/watch/a', 'Plan A costs $19.');
    pageTexts.set('/watch/b', 'Unchanged page.');
    pageTexts.set('/watch/c', 'First paragraph.');
    const request = {
      urls: paths.map((path) => `${site.url}${path}`),
      name: 'e2e monitor',
      webhook: { url: `${receiver.url}/hook`, events: ['crawl.completed', 'page.changed'] },
    };
    // What the scheduler (and, on AWS, the schedule's EventBridge rule) sends the submit function at each firing.
    const fire = async (n: number) => {
      const at = new Date(Date.now());
      const started = (await stack.functions.submit.invoke({
        source: 'serverless-crawler.schedule', schedule: 'watch-e2e', crawl: request, eventId: `e2e-firing-${n}-${at.getTime()}`, time: at.toISOString(),
      })) as { crawlId: string };
      await waitForCompletion(stack.apiUrl, started.crawlId, 60_000);
      return started.crawlId;
    };
    const first = await fire(1);
    pageTexts.set('/watch/a', 'Plan A costs $91.');
    pageTexts.set('/watch/c', 'First paragraph. And a new one.');
    const second = await fire(2);

    const { body: listing } = await call(stack.apiUrl, 'GET', '/crawls?schedule=watch-e2e');
    expect(listing.items.map((c: { crawlId: string; name: string; schedule: string }) => [c.crawlId, c.name, c.schedule])).toEqual([
      [second, 'e2e monitor', 'watch-e2e'],
      [first, 'e2e monitor', 'watch-e2e'],
    ]);
    const { body: changed } = await call(stack.apiUrl, 'GET', `/crawls/${second}/pages?change=changed`);
    expect(changed.items.map((s: { url: string; changedFields: string[] }) => [new URL(s.url).pathname, s.changedFields]).sort()).toEqual([
      ['/watch/a', ['text']],
      ['/watch/c', ['text']],
    ]);
    // One page.changed per changed page, and the run's crawl.completed, each signed and accepted once.
    await acceptedFor(second, 'crawl.completed');
    const deadline = Date.now() + 60_000;
    const pageDeliveries = () => [...accepted.values()].filter((r) => r.type === 'page.changed' && r.body.data.crawlId === second);
    while (pageDeliveries().length < 2 && Date.now() < deadline) await sleep(100);
    expect(pageDeliveries().map((r) => new URL(r.body.data.url).pathname).sort()).toEqual(['/watch/a', '/watch/c']);
    expect(pageDeliveries().every((r) => r.signed)).toBe(true);
  });
});
