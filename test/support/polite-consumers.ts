import type { SQSRecord } from 'aws-lambda';
import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient } from '../../functions/adapters/dynamodb/index.js';
import { DynamoHostPacer } from '../../functions/adapters/dynamodb/host-pace.js';
import { DynamoRobotsStore } from '../../functions/adapters/dynamodb/robots-cache.js';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import { CrawlCache } from '../../functions/core/crawl/crawl-cache.js';
import { processPage, type PageOutcome } from '../../functions/core/crawl/process-page.js';
import { RetryLater, type RetryPolicy } from '../../functions/core/crawl/retry-policy.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../../functions/core/fetch/fetch-limits.js';
import { fetchRobotsTxt } from '../../functions/core/fetch/robots-fetch.js';
import { productTokenOf } from '../../functions/core/fetch/robots-rules.js';
import { DEFAULT_USER_AGENT } from '../../functions/core/fetch/user-agent.js';
import { pageMessageSchema, type PageMessage } from '../../functions/core/model/page-message.js';
import type { PoliteDeps, PoliteSettings } from '../../functions/core/polite/admission.js';
import { RobotsSource } from '../../functions/core/polite/robots-source.js';
import { LOCAL_REGION } from '../../local/engines.js';
import { startEventSource, type RunningEventSource } from '../../local/event-source.js';
import type { Engines } from './engines.js';

export interface PoliteConsumer {
  polite: PoliteDeps;
  /** The event sources of the page queue and the turn queue, as one. */
  source: RunningEventSource;
  /** Every delivery: its message, the attempt it was, and what came of it. */
  deliveries: { message: PageMessage; attempt: number; outcome: PageOutcome | 'retry' | 'error' }[];
}

export interface PoliteConsumerOptions {
  settings?: Partial<PoliteSettings>;
  retry?: RetryPolicy;
  limits?: Partial<FetchLimits>;
  /** Pages in flight at once in this consumer. */
  pageConcurrency?: number;
}

/**
 * One consumer "container" on the real engines: its own DynamoDB pacer and robots.txt memo (as separate Lambda
 * containers have), fed by the local event source as Lambda's SQS mapping feeds the consume function, and processing
 * each record as the handler does (the attempt from the message's attempts and the receive count; a RetryLater sets the
 * message's visibility and fails the record).
 */
export function startPoliteConsumer(engines: Engines, options: PoliteConsumerOptions = {}): PoliteConsumer {
  const t = { db: createDocumentClient(engines.dynamodb), name: engines.resources.tableName };
  const queue = new SqsPageQueue({ queueUrl: engines.resources.queueUrl, client: engines.sqs });
  const turnQueue = new SqsPageQueue({ queueUrl: engines.resources.turnQueueUrl, client: engines.sqs });
  const limits: FetchLimits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true, ...options.limits };
  const settings: PoliteSettings = { userAgent: DEFAULT_USER_AGENT, hostDelayMs: 1_000, maxCrawlDelaySeconds: 30, ...options.settings };
  limits.userAgent = settings.userAgent;
  const polite: PoliteDeps = {
    settings,
    pacer: new DynamoHostPacer(t),
    robots: new RobotsSource({
      store: new DynamoRobotsStore(t),
      fetch: (origin, turn) => fetchRobotsTxt(origin, { ...limits, turn }),
      userAgentToken: productTokenOf(settings.userAgent),
      leaseMs: limits.timeoutMs + 5_000,
    }),
  };
  const crawls = new CrawlCache(engines.store);
  const deliveries: PoliteConsumer['deliveries'] = [];
  const retry = options.retry ?? { maxAttempts: 3, baseDelaySeconds: 0, maxDelaySeconds: 1 };

  async function handle(record: SQSRecord, from: SqsPageQueue): Promise<boolean> {
    const message = pageMessageSchema.parse(JSON.parse(record.body));
    const attempt = (message.attempts ?? 0) + Number(record.attributes.ApproximateReceiveCount);
    try {
      const outcome = await processPage(message, { store: engines.store, crawls, queue, turnQueue, limits, retry, polite }, attempt);
      deliveries.push({ message, attempt, outcome });
      return true;
    } catch (err) {
      deliveries.push({ message, attempt, outcome: err instanceof RetryLater ? 'retry' : 'error' });
      if (err instanceof RetryLater) await from.postpone(record.receiptHandle, err.delaySeconds).catch(() => undefined);
      return false;
    }
  }

  // The page queue and the turn queue, each as one of the consume function's event sources.
  const sourceOf = (from: SqsPageQueue, queueUrl: string) =>
    startEventSource({
      sqs: engines.sqs,
      queueUrl,
      queueArn: `arn:aws:sqs:local:000000000000:${queueUrl.split('/').pop()}`,
      region: LOCAL_REGION,
      batchSize: options.pageConcurrency ?? 8,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 1,
      visibilityTimeoutSeconds: 30,
      invoke: async (event) => {
        const ok = await Promise.all(event.Records.map((r) => handle(r, from)));
        return { batchItemFailures: event.Records.filter((_, i) => !ok[i]).map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
  const pageSource = sourceOf(queue, engines.resources.queueUrl);
  const turnSource = sourceOf(turnQueue, engines.resources.turnQueueUrl);
  const source: RunningEventSource = {
    get invocations() {
      return pageSource.invocations + turnSource.invocations;
    },
    setEnabled: async (enabled) => void (await Promise.all([pageSource.setEnabled(enabled), turnSource.setEnabled(enabled)])),
    stop: async () => void (await Promise.all([pageSource.stop(), turnSource.stop()])),
  };
  return { polite, source, deliveries };
}

/** Messages on the dead-letter queue (visible or not). */
export async function deadLetters(engines: Engines): Promise<number> {
  const out = await engines.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: engines.resources.deadLetterQueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(out.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}

export async function purgeQueues(engines: Engines): Promise<void> {
  for (const url of [engines.resources.queueUrl, engines.resources.turnQueueUrl, engines.resources.deadLetterQueueUrl]) {
    await engines.sqs.send(new PurgeQueueCommand({ QueueUrl: url })).catch(() => undefined);
  }
}
