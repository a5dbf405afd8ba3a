import { FetchError } from '../fetch/http-client.js';
import type { PostResponse } from '../fetch/http-post.js';
import { webhookBody, type WebhookDelivery } from './delivery-message.js';
import { retryDelaySeconds, WEBHOOK_MAX_RECEIVE_COUNT } from './retry-schedule.js';
import { signBody } from './signing.js';

export interface DeliverDeps {
  /** The deployment's webhook secret, which signs every body. */
  secret: string;
  /** A guarded POST (core/fetch/http-post.ts): resolves with the status, throws a FetchError when there was none. */
  post(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<PostResponse>;
  /** The retry schedule's base (retry-schedule.ts). */
  retryBaseSeconds: number;
  /** The delivery queue's maxReceiveCount: a failure on this receive gives up. */
  maxReceiveCount?: number;
}

/** Why a delivery failed: the fetch's error code, or HTTP_<status> for a response that was not a 2xx. */
export interface DeliveryFailure {
  code: string;
  reason: string;
  /** The receiver's status, when it answered. */
  status: number | null;
}

export type DeliveryResult =
  | { kind: 'delivered'; status: number }
  /** Hide the message for delaySeconds and let SQS deliver it again. */
  | ({ kind: 'retry'; delaySeconds: number } & DeliveryFailure)
  /** The last receive failed too: the message goes to the dead-letter queue. */
  | ({ kind: 'gave-up' } & DeliveryFailure);

/** The headers of a delivery's POST, the signature of this exact body among them. */
export function webhookHeaders(delivery: Pick<WebhookDelivery, 'id' | 'type'>, body: string, secret: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-crawler-event': delivery.type,
    'x-crawler-delivery': delivery.id,
    'x-crawler-signature': signBody(secret, body),
  };
}

/**
 * POSTs one delivery to its webhook. A 2xx delivers it; anything else (another status, a redirect, which is not
 * followed, or no answer at all) is retried on the schedule until the queue's last receive, which gives up.
 */
export async function deliverWebhook(delivery: WebhookDelivery, deps: DeliverDeps, receiveCount: number): Promise<DeliveryResult> {
  const body = webhookBody(delivery);
  const failure = await attempt(delivery, body, deps);
  if (!('code' in failure)) return failure;
  if (receiveCount >= (deps.maxReceiveCount ?? WEBHOOK_MAX_RECEIVE_COUNT)) return { kind: 'gave-up', ...failure };
  return { kind: 'retry', delaySeconds: retryDelaySeconds(receiveCount, deps.retryBaseSeconds), ...failure };
}

async function attempt(delivery: WebhookDelivery, body: string, deps: DeliverDeps): Promise<{ kind: 'delivered'; status: number } | DeliveryFailure> {
  let response: PostResponse;
  try {
    response = await deps.post(delivery.webhookUrl, body, webhookHeaders(delivery, body, deps.secret));
  } catch (err) {
    if (err instanceof FetchError) return { code: err.code, reason: err.message, status: null };
    throw err;
  }
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const reason = status >= 300 && status < 400 ? `the receiver answered ${status}: redirects are not followed` : `the receiver answered ${status}`;
  return { code: `HTTP_${status}`, reason, status };
}
