import type { Crawl } from '../model/crawl.js';
import type { WebhookDelivery } from '../webhooks/delivery-message.js';
import type { CrawlerEvent } from './events.js';

/** Puts events on the bus; resolves to those it could not put after its own retries. */
export interface EventPublisher {
  publish(events: readonly CrawlerEvent[]): Promise<CrawlerEvent[]>;
}

/** Queues webhook deliveries; resolves to those it could not queue after its own retries. */
export interface DeliverySender {
  send(deliveries: readonly WebhookDelivery[]): Promise<WebhookDelivery[]>;
}

/** A crawl by id (cached: a crawl's webhook does not change). */
export type CrawlLookup = (crawlId: string) => Promise<Crawl | null>;
