import { describe, expect, it } from 'vitest';
import { crawlStatusView } from '../../functions/core/crawl/read-crawls.js';
import { deliveryOf, eventOf, type CrawlerEvent, type TableChange } from '../../functions/core/events/events.js';
import { publishChanges, type PublishDeps } from '../../functions/core/events/publish-changes.js';
import type { Crawl } from '../../functions/core/model/crawl.js';
import type { Summary } from '../../functions/core/model/summary.js';
import { deliveryId, webhookDeliverySchema, type WebhookDelivery } from '../../functions/core/webhooks/delivery-message.js';

const running: Crawl = {
  crawlId: '01K0000000000000000000000A',
  status: 'running',
  total: 2,
  succeeded: 1,
  failed: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  options: { maxDepth: 0, sameOrigin: true },
  source: { kind: 'schedule', name: 'nightly' },
  name: 'docs',
  webhook: { url: 'https://hooks.example/in', events: ['crawl.completed', 'page.changed'] },
};
const completed: Crawl = { ...running, status: 'completed', succeeded: 2, completedAt: '2026-01-01T00:05:00.000Z' };

const page = (url: string, change: Summary['change']): Summary => ({
  url, finalUrl: url, status: 200, ok: true, contentType: 'text/html', charset: 'utf-8', title: 'T', lang: null, description: null,
  canonical: null, h1: 0, links: 0, images: 0, bytes: 10, durationMs: 1, fetchedAt: '2026-01-01T00:04:59.562Z', contentHash: 'h',
  textHash: 't', depth: 1, change, changedFields: change === 'changed' ? ['title'] : [],
  previous: change === 'new' ? null : { crawlId: '01K0000000000000000000000B', fetchedAt: '2025-12-31T00:00:00.000Z', contentHash: 'g' },
});
const crawlChange = (id: string, before: Crawl | null, after: Crawl | null): TableChange => ({ kind: 'crawl', id, before, after });
const pageChange = (id: string, summary: Summary, inserted = true): TableChange => ({ kind: 'page', id, inserted, crawlId: running.crawlId, summary });

describe('eventOf', () => {
  it('makes Crawl Completed, with the crawl as the API shows it, of the change that sets completedAt', () => {
    expect(eventOf(crawlChange('1', running, completed))).toEqual({
      detailType: 'Crawl Completed',
      type: 'crawl.completed',
      crawlId: running.crawlId,
      time: completed.completedAt,
      detail: crawlStatusView(completed),
      webhook: running.webhook,
    });
  });

  it('makes nothing of a crawl change that does not set completedAt for the first time', () => {
    expect(eventOf(crawlChange('1', running, { ...running, succeeded: 2 }))).toBeNull();
    expect(eventOf(crawlChange('1', completed, { ...completed, total: 3 }))).toBeNull();
    expect(eventOf(crawlChange('1', completed, null))).toBeNull();
  });

  it('makes Page Changed of a page inserted as changed, and nothing of one new, the same, or rewritten', () => {
    const summary = page('https://a.example/x', 'changed');
    expect(eventOf(pageChange('1', summary))).toEqual({
      detailType: 'Page Changed',
      type: 'page.changed',
      crawlId: running.crawlId,
      url: summary.url,
      time: summary.fetchedAt,
      detail: { crawlId: running.crawlId, url: summary.url, changedFields: ['title'], previous: summary.previous, summary },
    });
    expect(eventOf(pageChange('1', page('https://a.example/x', 'new')))).toBeNull();
    expect(eventOf(pageChange('1', page('https://a.example/x', 'same')))).toBeNull();
    expect(eventOf(pageChange('1', summary, false))).toBeNull();
    expect(eventOf({ kind: 'other', id: '1' })).toBeNull();
  });
});

describe('deliveryOf', () => {
  const event = eventOf(crawlChange('1', running, completed))!;

  it('is a WebhookDelivery with the id of the event, the same every time', () => {
    const delivery = deliveryOf(event, running.webhook);
    expect(webhookDeliverySchema.parse(delivery)).toEqual({
      id: deliveryId('crawl.completed', running.crawlId),
      type: 'crawl.completed',
      createdAt: completed.completedAt,
      data: crawlStatusView(completed),
      webhookUrl: running.webhook!.url,
      crawlId: running.crawlId,
    });
    expect(deliveryOf(event, running.webhook)!.id).toBe(delivery!.id);
  });

  it('is none for a crawl without a webhook, or whose webhook did not choose the event', () => {
    expect(deliveryOf(event, undefined)).toBeNull();
    expect(deliveryOf(event, { url: 'https://hooks.example/in', events: ['page.changed'] })).toBeNull();
  });

  it("gives each changed page of a crawl its own id", () => {
    const a = deliveryOf(eventOf(pageChange('1', page('https://a.example/a', 'changed')))!, running.webhook)!;
    const b = deliveryOf(eventOf(pageChange('2', page('https://a.example/b', 'changed')))!, running.webhook)!;
    expect(a.id).toBe(deliveryId('page.changed', running.crawlId, 'https://a.example/a'));
    expect(a.id).not.toBe(b.id);
  });

  it("dates a page.changed delivery at the page's fetchedAt, to the millisecond", () => {
    const summary = page('https://a.example/a', 'changed');
    expect(deliveryOf(eventOf(pageChange('1', summary))!, running.webhook)!.createdAt).toBe('2026-01-01T00:04:59.562Z');
  });
});

/** Ports that record what went out and fail what they are told to. */
function ports(options: { failEvent?: (e: CrawlerEvent) => boolean; failDelivery?: (d: WebhookDelivery) => boolean; crawl?: (id: string) => Promise<Crawl | null> } = {}) {
  const published: CrawlerEvent[] = [];
  const queued: WebhookDelivery[] = [];
  const crawlReads: string[] = [];
  const deps: PublishDeps = {
    bus: { publish: async (events) => (published.push(...events), events.filter((e) => options.failEvent?.(e) ?? false)) },
    deliveries: { send: async (deliveries) => (queued.push(...deliveries), deliveries.filter((d) => options.failDelivery?.(d) ?? false)) },
    crawl: async (id) => (crawlReads.push(id), options.crawl ? options.crawl(id) : running),
  };
  return { deps, published, queued, crawlReads };
}

describe('publishChanges', () => {
  it("puts each change's event on the bus and queues its delivery; reads a crawl only for a page's webhook", async () => {
    const { deps, published, queued, crawlReads } = ports();
    const report = await publishChanges(
      [crawlChange('1', running, completed), pageChange('2', page('https://a.example/x', 'changed')), pageChange('3', page('https://a.example/y', 'same'))],
      deps,
    );
    expect(report).toEqual({ published: 2, queued: 2, failed: [], errors: [] });
    expect(published.map((e) => e.detailType)).toEqual(['Crawl Completed', 'Page Changed']);
    expect(queued.map((d) => d.type)).toEqual(['crawl.completed', 'page.changed']);
    expect(crawlReads).toEqual([running.crawlId]);
  });

  it('fails the changes whose event or delivery did not go out, in stream order, and only those', async () => {
    const { deps } = ports({
      failEvent: (e) => e.type === 'page.changed' && e.url.endsWith('/x'),
      failDelivery: (d) => d.type === 'crawl.completed',
    });
    const report = await publishChanges(
      [pageChange('1', page('https://a.example/x', 'changed')), pageChange('2', page('https://a.example/y', 'changed')), crawlChange('3', running, completed)],
      deps,
    );
    expect(report.failed).toEqual(['1', '3']);
    expect(report.errors.map((e) => e.id)).toEqual(['1', '3']);
    expect(report).toMatchObject({ published: 2, queued: 2 });
  });

  it('fails a changed page whose crawl could not be read, sending neither its event nor its delivery', async () => {
    const { deps, published, queued } = ports({ crawl: async () => Promise.reject(new Error('throttled')) });
    const report = await publishChanges([pageChange('1', page('https://a.example/x', 'changed')), crawlChange('2', running, completed)], deps);
    expect(report.failed).toEqual(['1']);
    expect(report.errors[0]!.reason).toContain('throttled');
    expect(published.map((e) => e.detailType)).toEqual(['Crawl Completed']);
    expect(queued.map((d) => d.type)).toEqual(['crawl.completed']);
  });

  it('puts a changed page of a crawl that is gone on the bus, with no delivery', async () => {
    const { deps, published, queued } = ports({ crawl: async () => null });
    expect(await publishChanges([pageChange('1', page('https://a.example/x', 'changed'))], deps)).toMatchObject({ published: 1, queued: 0, failed: [] });
    expect(published).toHaveLength(1);
    expect(queued).toEqual([]);
  });
});
