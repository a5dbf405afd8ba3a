import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import { queueFromEnv, storeFromEnv } from '../adapters/from-env.js';
import { processPage } from '../core/process-page.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../core/fetch-limits.js';
import { pageMessageSchema } from '../core/ports.js';
import { redactUrl } from '../core/url.js';
import { ENV, isTrue, numberOr } from '../env.js';
import { logger, metrics } from './observability.js';

const store = storeFromEnv();
const queue = queueFromEnv();
const limits: FetchLimits = {
  timeoutMs: numberOr(ENV.fetchTimeoutMs, DEFAULT_FETCH_LIMITS.timeoutMs),
  maxBodyBytes: numberOr(ENV.maxBodyBytes, DEFAULT_FETCH_LIMITS.maxBodyBytes),
  maxRedirects: numberOr(ENV.maxRedirects, DEFAULT_FETCH_LIMITS.maxRedirects),
  allowPrivateNetwork: isTrue(ENV.allowPrivateNetwork),
};
/** Pages in flight at once in one invocation: a batch can hold up to 10,000 records with a batching window. */
const limit = pLimit(numberOr(ENV.pageConcurrency, 16));
const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<void> {
  const parsed = pageMessageSchema.safeParse(safeJson(record.body));
  if (!parsed.success) {
    // Not ours or corrupted: failing it lets SQS move it to the DLQ after maxReceiveCount, where it can be inspected.
    logger.error('malformed message', { messageId: record.messageId });
    throw new Error(`message ${record.messageId} is not a page message`);
  }
  const message = parsed.data;
  await limit(async () => {
    const outcome = await processPage(message, { store, queue, limits }).catch((err: unknown) => {
      // Logged here because the batch processor only reports the message id back to SQS.
      logger.warn('page will be retried', { crawlId: message.crawlId, url: redactUrl(message.url), error: err as Error });
      throw err;
    });
    logger.debug('page processed', { crawlId: message.crawlId, url: redactUrl(message.url), outcome });
    metrics.addMetric(outcome === 'recorded' ? 'PagesRecorded' : 'DuplicateDeliveries', MetricUnit.Count, 1);
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  try {
    const response = await processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
    if (response.batchItemFailures.length > 0) {
      logger.warn('batch had failures', { records: event.Records.length, failures: response.batchItemFailures.length });
    }
    return response;
  } finally {
    metrics.publishStoredMetrics();
  }
};
