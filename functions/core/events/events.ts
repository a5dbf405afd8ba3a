import type { Crawl, Webhook, WebhookEvent } from '../model/crawl.js';
import type { ChangedField, PreviousSummary, Summary } from '../model/summary.js';
import { crawlStatusView, type CrawlStatusView } from '../crawl/read-crawls.js';
import { deliveryId, type WebhookDelivery } from '../webhooks/delivery-message.js';

/**
 * From a change of the table (a stream record, read by the adapter) to the events the deployment emits (the
 * contract's "Events and webhooks"): "Crawl Completed" when a crawl gets its completedAt, "Page Changed" when a page is
 * recorded with `change: "changed"`. Plain: no SDK, no I/O.
 */

/** Every event's source on the bus. */
export const EVENT_SOURCE = 'serverless-crawler';

/** One change of the table as the stream reports it, its items read back into the model. */
export type TableChange =
  | { kind: 'crawl'; id: string; before: Crawl | null; after: Crawl | null }
  | { kind: 'page'; id: string; inserted: boolean; crawlId: string; summary: Summary }
  /** Any other item (counted URLs, hosts, robots.txt, …): no event. */
  | { kind: 'other'; id: string };

export interface PageChangedDetail {
  crawlId: string;
  url: string;
  changedFields: ChangedField[];
  previous: PreviousSummary | null;
  summary: Summary;
}

/** An event as it goes on the bus, with what its webhook delivery needs. */
export type CrawlerEvent =
  | { detailType: 'Crawl Completed'; type: 'crawl.completed'; crawlId: string; time: string; detail: CrawlStatusView; webhook?: Webhook }
  | { detailType: 'Page Changed'; type: 'page.changed'; crawlId: string; url: string; time: string; detail: PageChangedDetail };

/** The event a change makes, if any. */
export function eventOf(change: TableChange): CrawlerEvent | null {
  if (change.kind === 'crawl') {
    const { before, after } = change;
    // completedAt is set once (crawl-lifecycle.ts): the change that sets it is the crawl's completion.
    if (!after?.completedAt || before?.completedAt) return null;
    return {
      detailType: 'Crawl Completed',
      type: 'crawl.completed',
      crawlId: after.crawlId,
      time: after.completedAt,
      detail: crawlStatusView(after),
      ...(after.webhook ? { webhook: after.webhook } : {}),
    };
  }
  if (change.kind === 'page' && change.inserted && change.summary.change === 'changed') {
    const { crawlId, summary } = change;
    return {
      detailType: 'Page Changed',
      type: 'page.changed',
      crawlId,
      url: summary.url,
      // The change was seen when the page was fetched: fetchedAt is exact and, being in the item, the same for every
      // delivery of the record (the stream's own time is coarse: whole seconds on AWS, coarser on DynamoDB Local).
      time: summary.fetchedAt,
      detail: { crawlId, url: summary.url, changedFields: summary.changedFields ?? [], previous: summary.previous ?? null, summary },
    };
  }
  return null;
}

/** Whether the event needs its crawl read for the webhook: a page's item does not carry its crawl's. */
export const needsCrawl = (event: CrawlerEvent): boolean => event.type === 'page.changed';

/** The delivery of an event to its crawl's webhook, if the crawl has one that chose this event. */
export function deliveryOf(event: CrawlerEvent, webhook: Webhook | undefined): WebhookDelivery | null {
  if (!webhook || !webhook.events.includes(event.type satisfies WebhookEvent)) return null;
  return {
    // The same event always has the same id, however often its stream record is delivered: the receiver deduplicates.
    id: event.type === 'page.changed' ? deliveryId(event.type, event.crawlId, event.url) : deliveryId(event.type, event.crawlId),
    type: event.type,
    createdAt: event.time,
    data: event.detail,
    webhookUrl: webhook.url,
    crawlId: event.crawlId,
  };
}
