import type { WebhookDelivery } from '../webhooks/delivery-message.js';
import { deliveryOf, eventOf, needsCrawl, type CrawlerEvent, type TableChange } from './events.js';
import type { CrawlLookup, DeliverySender, EventPublisher } from './ports.js';

export interface PublishDeps {
  bus: EventPublisher;
  deliveries: DeliverySender;
  crawl: CrawlLookup;
}

export interface PublishReport {
  /** Events put on the bus. */
  published: number;
  /** Webhook deliveries queued. */
  queued: number;
  /** The changes (their ids, in stream order) whose event or delivery did not go out: the stream delivers them again. */
  failed: string[];
  /** Why, one entry per failed change. */
  errors: { id: string; reason: string }[];
}

/**
 * Emits the events of a batch of table changes: each on the bus and, where its crawl's webhook chose it, as one
 * delivery on the webhook queue. A change whose crawl could not be read, whose event was not put or whose delivery was
 * not queued fails as a whole, to be delivered again by the stream: at least once, never lost. The other changes of
 * the batch still go out; a change delivered again may repeat its event, and gives its delivery the same id.
 */
export async function publishChanges(changes: readonly TableChange[], deps: PublishDeps): Promise<PublishReport> {
  const errors = new Map<string, string>();
  const fail = (id: string, reason: string) => errors.has(id) || errors.set(id, reason);
  const pending = changes.flatMap((change) => {
    const event = eventOf(change);
    return event ? [{ id: change.id, event }] : [];
  });

  const withDeliveries = await Promise.all(
    pending.map(async ({ id, event }) => {
      try {
        const webhook = needsCrawl(event) ? (await deps.crawl(event.crawlId))?.webhook : event.type === 'crawl.completed' ? event.webhook : undefined;
        return { id, event, delivery: deliveryOf(event, webhook) };
      } catch (err) {
        fail(id, `could not read crawl ${event.crawlId}: ${(err as Error).message}`);
        return null;
      }
    }),
  );
  const ready = withDeliveries.filter((entry): entry is { id: string; event: CrawlerEvent; delivery: WebhookDelivery | null } => entry !== null);

  const changeOf = new Map<CrawlerEvent | WebhookDelivery, string>();
  for (const { id, event, delivery } of ready) {
    changeOf.set(event, id);
    if (delivery) changeOf.set(delivery, id);
  }
  const events = ready.map((entry) => entry.event);
  const deliveries = ready.flatMap((entry) => (entry.delivery ? [entry.delivery] : []));
  const [unpublished, unqueued] = await Promise.all([
    events.length > 0 ? deps.bus.publish(events) : Promise.resolve([]),
    deliveries.length > 0 ? deps.deliveries.send(deliveries) : Promise.resolve([]),
  ]);
  for (const event of unpublished) fail(changeOf.get(event)!, `event "${event.detailType}" was not put on the bus`);
  for (const delivery of unqueued) fail(changeOf.get(delivery)!, `webhook delivery ${delivery.id} was not queued`);

  const failed = changes.map((change) => change.id).filter((id) => errors.has(id));
  return {
    published: events.length - unpublished.length,
    queued: deliveries.length - unqueued.length,
    failed,
    errors: failed.map((id) => ({ id, reason: errors.get(id)! })),
  };
}
