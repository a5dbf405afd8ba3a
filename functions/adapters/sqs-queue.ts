import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import type { PageMessage } from '../core/model/page-message.js';
import type { PageSender } from '../core/model/ports.js';
import type { SitemapMessage } from '../core/sitemap/sitemap-message.js';
import type { SitemapSender } from '../core/sitemap/ports.js';
import { sendInBatches } from './batched-retries.js';

/** What goes on the page queue: pages, and the crawls' sitemap work (`kind: 'sitemap'`). */
type QueueMessage = PageMessage | SitemapMessage;

/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

export interface SqsQueueOptions {
  queueUrl: string;
  client?: SQSClient;
  /** SendMessageBatch calls in flight at once (batches of 10, each tried again as batched-retries.ts says). */
  concurrency?: number;
  /** Extra tries for entries SQS reported as failed (or a call that threw). */
  retries?: number;
}

export class SqsPageQueue implements PageSender, SitemapSender {
  private readonly client: SQSClient;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly retries: number;

  constructor(private readonly options: SqsQueueOptions) {
    this.client = options.client ?? new SQSClient({});
    this.limit = pLimit(options.concurrency ?? 8);
    this.retries = options.retries ?? 3;
  }

  async send<M extends QueueMessage>(messages: readonly M[], options: { delaySeconds?: number } = {}): Promise<M[]> {
    const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(options.delaySeconds ?? 0)));
    return sendInBatches(messages, this.retries, (batch) =>
      this.limit(async () => {
        const out = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: batch.map((message, i) => ({ Id: String(i), MessageBody: JSON.stringify(message), ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}) })),
          }),
        );
        return new Set((out.Failed ?? []).map((f) => Number(f.Id)));
      }),
    );
  }

  /**
   * Hides a received message for `seconds` before SQS delivers it again. Lambda's event source leaves a message it was
   * told failed (batchItemFailures) alone, so this visibility is what sets the retry's delay.
   */
  async postpone(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }),
    );
  }

  /** Messages waiting to be received: not those in flight (received, not yet deleted) nor delayed ones. */
  async backlog(): Promise<number> {
    const out = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.options.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    return Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0);
  }
}
