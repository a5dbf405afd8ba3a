import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import { secretValue } from '../adapters/secrets.js';
import { SqsPageQueue } from '../adapters/sqs-queue.js';
import { postGuarded, type PostLimits } from '../core/fetch/http-post.js';
import { deliverWebhook, type DeliverDeps, type DeliveryResult } from '../core/webhooks/deliver-webhook.js';
import { webhookDeliverySchema, type WebhookDelivery } from '../core/webhooks/delivery-message.js';
import { DELIVER_SETTINGS } from '../settings/deliver.js';
import { loadSettings } from '../settings/setting.js';
import { logger, metrics } from './observability.js';

// Settings, adapters and the secret at module scope: read and built once per container (the secret at cold start).
const settings = loadSettings(DELIVER_SETTINGS);
const queue = new SqsPageQueue(settings.queue);
const limit = pLimit(settings.concurrency);
const limits: PostLimits = { timeoutMs: settings.timeoutMs, connectTimeoutMs: settings.connectTimeoutMs, allowPrivateNetwork: settings.allowPrivateNetwork };
const deps: DeliverDeps = {
  secret: await secretValue(settings.secret),
  post: (url, body, headers) => postGuarded(url, body, headers, limits),
  retryBaseSeconds: settings.retryBaseSeconds,
};

const receiveCount = (record: SQSRecord) => Math.max(1, Number(record.attributes.ApproximateReceiveCount) || 1);

async function handleRecord(record: SQSRecord): Promise<void> {
  const parsed = webhookDeliverySchema.safeParse(safeJson(record.body));
  if (!parsed.success) {
    // Not ours or corrupted: failed, so that SQS moves it to the dead-letter queue, where it can be inspected.
    logger.error('malformed webhook delivery', { messageId: record.messageId });
    throw new Error(`message ${record.messageId} is not a webhook delivery`);
  }
  const delivery = parsed.data;
  const attempt = receiveCount(record);
  await limit(async () => {
    const started = Date.now();
    const result = await deliverWebhook(delivery, deps, attempt);
    report(delivery, attempt, result, Date.now() - started);
    if (result.kind === 'delivered') return;
    // The delay is the message's visibility (on the last receive none: SQS moves it to the dead-letter queue at once).
    // If setting it fails, SQS still delivers it again after the queue's visibility timeout.
    const delaySeconds = result.kind === 'retry' ? result.delaySeconds : 0;
    await queue.postpone(record.receiptHandle, delaySeconds).catch((err: unknown) => logger.warn('could not set the retry delay', { deliveryId: delivery.id, error: err as Error }));
    throw new Error(`webhook delivery ${delivery.id} failed: ${result.code}`);
  });
}

/** One log line and one metric per delivery attempt; never the secret, the body or the signature. */
function report(delivery: WebhookDelivery, attempt: number, result: DeliveryResult, durationMs: number): void {
  const context = { deliveryId: delivery.id, type: delivery.type, crawlId: delivery.crawlId, webhook: webhookOrigin(delivery.webhookUrl), attempt, durationMs };
  switch (result.kind) {
    case 'delivered':
      logger.info('webhook delivered', { ...context, status: result.status });
      metrics.addMetric('WebhookDelivered', MetricUnit.Count, 1);
      return;
    case 'retry':
      logger.warn('webhook delivery failed; it will be retried', { ...context, code: result.code, reason: result.reason, status: result.status, delaySeconds: result.delaySeconds });
      metrics.addMetric('WebhookFailed', MetricUnit.Count, 1);
      return;
    case 'gave-up':
      logger.error('webhook delivery failed on its last attempt; SQS moves it to the dead-letter queue', { ...context, code: result.code, reason: result.reason, status: result.status });
      metrics.addMetric('WebhookGaveUp', MetricUnit.Count, 1);
      return;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  // Per invocation: a BatchProcessor keeps the batch's state on itself.
  const processor = new BatchProcessor(EventType.SQS);
  try {
    return await processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false });
  } finally {
    metrics.publishStoredMetrics();
  }
};

/** Where a delivery went, for the logs: the origin only, since webhook URLs often carry their token in the path (Slack, Discord). */
function webhookOrigin(url: string): string {
  return URL.parse(url)?.origin ?? 'an invalid URL';
}
