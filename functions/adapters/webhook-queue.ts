import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeliverySender } from '../core/events/ports.js';
import type { WebhookDelivery } from '../core/webhooks/delivery-message.js';
import { sendInBatches } from './batched-retries.js';

/**
 * The most message bytes one SendMessageBatch may carry: 256 KiB, a queue's default largest message and the batch
 * limit on queues that keep it (larger queues allow 1 MiB; this fits both).
 */
export const SQS_BATCH_BYTES = 256 * 1024;

export interface WebhookQueueOptions {
  queueUrl: string;
  client?: SQSClient;
  /** Extra tries for entries SQS reported as failed (or a call that threw). */
  retries?: number;
}

/** The webhook delivery queue: one message per delivery, its body the WebhookDelivery (core/webhooks/delivery-message.ts). */
export class SqsWebhookQueue implements DeliverySender {
  private readonly client: SQSClient;

  constructor(private readonly options: WebhookQueueOptions) {
    this.client = options.client ?? new SQSClient({});
  }

  send(deliveries: readonly WebhookDelivery[]): Promise<WebhookDelivery[]> {
    const bodies = new Map(deliveries.map((delivery) => [delivery, JSON.stringify(delivery)]));
    return sendInBatches(
      deliveries,
      this.options.retries ?? 3,
      async (batch) => {
        const out = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: batch.map((delivery, i) => ({ Id: String(i), MessageBody: bodies.get(delivery)! })),
          }),
        );
        return new Set((out.Failed ?? []).map((f) => Number(f.Id)));
      },
      // A delivery carries its event's detail (a Page Changed's summary can reach a few hundred KB): batches are cut
      // by size too, so one large delivery does not make SQS refuse the others with it.
      { max: SQS_BATCH_BYTES, sizeOf: (delivery) => Buffer.byteLength(bodies.get(delivery)!) },
    );
  }
}
