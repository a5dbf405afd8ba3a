import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeliverySender } from '../core/events/ports.js';
import type { WebhookDelivery } from '../core/webhooks/delivery-message.js';
import { sendInBatches } from './batched-retries.js';

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
    return sendInBatches(deliveries, this.options.retries ?? 3, async (batch) => {
      const out = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: batch.map((delivery, i) => ({ Id: String(i), MessageBody: JSON.stringify(delivery) })),
        }),
      );
      return new Set((out.Failed ?? []).map((f) => Number(f.Id)));
    });
  }
}
