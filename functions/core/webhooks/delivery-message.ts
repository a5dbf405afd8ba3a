import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { WEBHOOK_EVENTS, type WebhookEvent } from '../model/crawl.js';

/**
 * One message on the webhook delivery queue: one event for one crawl's webhook. The publish function sends it; the
 * deliver function POSTs it (webhookBody) to webhookUrl.
 */
export const webhookDeliverySchema = z.object({
  /** Deterministic for the event (deliveryId): a redelivered stream record yields the same id, so receivers can deduplicate. */
  id: z.string().check(z.minLength(1)),
  type: z.enum(WEBHOOK_EVENTS),
  /** When the event happened (ISO 8601): a crawl's completedAt, a changed page's fetchedAt. */
  createdAt: z.iso.datetime(),
  /** The event's EventBridge detail, as is. */
  data: z.unknown(),
  webhookUrl: z.string().check(z.minLength(1)),
  crawlId: z.string().check(z.minLength(1)),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

/**
 * The delivery id of an event: the same type, crawl and URL always give the same id. JSON of the parts keeps them
 * apart (no separator a crawl id or URL could contain makes two events collide).
 */
export function deliveryId(type: WebhookEvent, crawlId: string, url?: string): string {
  const parts = url === undefined ? [type, crawlId] : [type, crawlId, url];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** The exact raw body POSTed (and signed): the receiver's view of the delivery, without where it goes. */
export function webhookBody(delivery: Pick<WebhookDelivery, 'id' | 'type' | 'createdAt' | 'data'>): string {
  return JSON.stringify({ id: delivery.id, type: delivery.type, createdAt: delivery.createdAt, data: delivery.data });
}
