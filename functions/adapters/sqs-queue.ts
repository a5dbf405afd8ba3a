import { setTimeout as sleep } from 'node:timers/promises';
import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import type { PageMessage } from '../core/model/page-message.js';
import type { PageSender } from '../core/model/ports.js';
import type { SitemapMessage } from '../core/sitemap/sitemap-message.js';
import type { SitemapSender } from '../core/sitemap/ports.js';

/** What goes on the page queue: pages, and the crawls' sitemap work (`kind: 'sitemap'`). */
type QueueMessage = PageMessage | SitemapMessage;

/** SQS takes at most 10 messages per SendMessageBatch. */
const BATCH = 10;
/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

export interface SqsQueueOptions {
  queueUrl: string;
  client?: SQSClient;
  /** SendMessageBatch calls in flight at once. */
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
    const batches: M[][] = [];
    for (let i = 0; i < messages.length; i += BATCH) batches.push(messages.slice(i, i + BATCH));
    const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(options.delaySeconds ?? 0)));
    const failed = await Promise.all(batches.map((batch) => this.limit(() => this.sendBatch(batch, delaySeconds))));
    return failed.flat();
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

  private async sendBatch<M extends QueueMessage>(batch: M[], delaySeconds: number): Promise<M[]> {
    let pending = batch;
    for (let attempt = 0; attempt <= this.retries && pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.random() * 100 * 2 ** attempt);
      try {
        const out = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: pending.map((message, i) => ({ Id: String(i), MessageBody: JSON.stringify(message), ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}) })),
          }),
        );
        const failedIds = new Set((out.Failed ?? []).map((f) => f.Id));
        pending = pending.filter((_, i) => failedIds.has(String(i)));
      } catch {
        // The whole call failed (throttling, network): every entry is tried again.
      }
    }
    return pending;
  }
}
