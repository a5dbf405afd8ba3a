import { PUBLISH_STREAM_FILTERS } from '../functions/adapters/stream-filters.js';
import { CONSUME_SETTINGS } from '../functions/settings/consume.js';
import { DELIVER_SETTINGS } from '../functions/settings/deliver.js';
import { PUBLISH_SETTINGS } from '../functions/settings/publish.js';
import { READ_SETTINGS } from '../functions/settings/read.js';
import { RECONCILE_SETTINGS } from '../functions/settings/reconcile.js';
import { configuredEnvironment, type Settings } from '../functions/settings/setting.js';
import { SUBMIT_SETTINGS } from '../functions/settings/submit.js';
import type { HandlerFile } from './bundling.js';
import type { CrawlerConfig } from './config.js';
import { DELIVER_TIMEOUT_SECONDS, runningCrawlsIndex } from './resources.js';

/**
 * The crawler's functions as plain data: the CDK stack builds its Lambda functions from these and the local stack
 * runs its containers from the same ones (bundle, memory, timeout, environment, concurrency), so the two cannot
 * drift. No CDK imports: the local stack loads this cheaply.
 */

export type CrawlerFunctionName = 'submit' | 'read' | 'consume' | 'reconcile' | 'publish' | 'deliver';

/**
 * What each function may do to the table: only the actions its code calls (TransactWriteItems needs Put/Update).
 * submit also serves DELETE /crawls/{crawlId}, a write the read function may not do: an UpdateItem and a GetItem.
 */
export const TABLE_ACCESS = {
  // Query and BatchGetItem: a schedule's run reads the schedule's previous run (its listing) before it starts.
  submit: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'],
  consume: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  // BatchGetItem: GET /crawls reads the listed crawls' items in batches.
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
  reconcile: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  // A changed page's crawl, for its webhook (the stream itself is granted by the event source).
  publish: ['dynamodb:GetItem'],
} as const;
export type TableAccess = keyof typeof TABLE_ACCESS;

/** The table's indexes each access reads; the others are not granted. */
export const TABLE_INDEXES: Partial<Record<TableAccess, readonly string[]>> = {
  reconcile: [runningCrawlsIndex.indexName],
};

export interface FunctionDefinition {
  readonly handlerFile: HandlerFile;
  readonly description: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** What the function reads at cold start (functions/settings/): each setting's variable, doc and default. */
  readonly settings: Settings;
  /**
   * The variables of its configured settings, from the deployment configuration. The resources it is bound to add
   * theirs (on AWS, CrawlerFunction's bind methods, with the grants; locally, resourceEnvironment).
   */
  readonly environment: Readonly<Record<string, string>>;
  /** What it may do to the table; none for a function that does not use it (deliver). */
  readonly tableAccess?: TableAccess;
  /**
   * Containers at most in the local stack. For the consumer and deliver it is also the event source's
   * maximumConcurrency on AWS; for the reconciler it is local only (AWS gets no reserved concurrency: see
   * lib/reconciler.ts), and for publish too (a stream's event source runs one batch per shard at a time).
   */
  readonly maxConcurrency?: number;
}

/** The event the reconciler's one-minute rule sends (the local stack sends the same). */
export const RECONCILE_EVENT = { source: 'serverless-crawler.reconcile' } as const;

/** What every function gets, whatever it is. */
export const BASE_ENVIRONMENT: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/** What each function reads at cold start. */
export const FUNCTION_SETTINGS = {
  submit: SUBMIT_SETTINGS,
  read: READ_SETTINGS,
  consume: CONSUME_SETTINGS,
  reconcile: RECONCILE_SETTINGS,
  publish: PUBLISH_SETTINGS,
  deliver: DELIVER_SETTINGS,
} satisfies Record<CrawlerFunctionName, Settings>;

/**
 * How the table's stream invokes the publish function, on AWS (lib/events.ts) and locally (local/stream-source.ts):
 * only the records its filters match, in batches; a batch that throws is split in two and retried, a record reported
 * failed is retried from there, and after retryAttempts the batch's description goes to the on-failure queue.
 */
export const PUBLISH_EVENT_SOURCE = {
  filters: PUBLISH_STREAM_FILTERS,
  batchSize: 100,
  maxBatchingWindowSeconds: 0,
  bisectBatchOnError: true,
  retryAttempts: 10,
} as const;

/** How an SQS event source gathers a batch for the consume function. */
export interface SqsBatching {
  batchSize: number;
  maxBatchingWindowSeconds: number;
}

const TURN_MAX_WINDOW_SECONDS = 1;

/**
 * How the turn queue invokes the consume function, on AWS (lib/consumer.ts) and locally: in the page queue's batches,
 * since a batch of URLs back for their turns is held by their waits for their hosts' starts whatever its size, so the
 * more URLs share it the less Lambda time each costs; but gathered for at most TURN_MAX_WINDOW_SECONDS, since its URLs
 * are due and a longer window leaves their slots unused. (A batch over 10 has a window of at least 1 s already.)
 */
export function turnEventSource(consumer: SqsBatching): SqsBatching {
  return { batchSize: consumer.batchSize, maxBatchingWindowSeconds: Math.min(consumer.maxBatchingWindowSeconds, TURN_MAX_WINDOW_SECONDS) };
}

export function functionDefinitions(config: CrawlerConfig): Record<CrawlerFunctionName, FunctionDefinition> {
  const table = { retentionDays: config.retentionDays };
  return {
    submit: {
      handlerFile: 'submit',
      description: 'Validates a crawl request, records the crawl and queues one message per URL; cancels crawls',
      memorySize: 512,
      // API Gateway's integration timeout.
      timeoutSeconds: 29,
      settings: FUNCTION_SETTINGS.submit,
      environment: configuredEnvironment(FUNCTION_SETTINGS.submit, {
        table,
        policy: { maxPagesPerCrawl: config.limits.maxPagesPerCrawl, hostDelayMs: config.politeness.hostDelayMs },
      }),
      tableAccess: 'submit',
    },
    read: {
      handlerFile: 'read',
      description: 'Serves crawl status, crawl pages and the latest summary of a URL',
      memorySize: 256,
      timeoutSeconds: 10,
      settings: FUNCTION_SETTINGS.read,
      environment: configuredEnvironment(FUNCTION_SETTINGS.read, { table }),
      tableAccess: 'read',
    },
    consume: {
      handlerFile: 'consume',
      description: 'Fetches and summarizes pages from the page queue',
      memorySize: config.consumer.memorySize,
      timeoutSeconds: config.consumer.timeoutSeconds,
      settings: FUNCTION_SETTINGS.consume,
      environment: configuredEnvironment(FUNCTION_SETTINGS.consume, {
        table,
        pageConcurrency: config.consumer.pageConcurrency,
        parseThreads: config.consumer.parseThreads,
        fetch: config.fetch,
        // The consumer's last attempt is SQS's last delivery before the DLQ: one number for both.
        retry: { maxAttempts: config.queue.maxReceiveCount, ...config.retry },
        politeness: { userAgent: config.userAgent, ...config.politeness },
      }),
      tableAccess: 'consume',
      maxConcurrency: config.consumer.maxConcurrency,
    },
    reconcile: {
      handlerFile: 'reconcile',
      description: 'Queues again the counted URLs of stalled crawls that have no outcome, and ends those queued too often',
      memorySize: 512,
      timeoutSeconds: 300,
      settings: FUNCTION_SETTINGS.reconcile,
      environment: configuredEnvironment(FUNCTION_SETTINGS.reconcile, { table, ...config.reconcile }),
      tableAccess: 'reconcile',
      maxConcurrency: 1,
    },
    publish: {
      handlerFile: 'publish',
      description: "Turns the table's stream into EventBridge events (Crawl Completed, Page Changed) and webhook deliveries",
      memorySize: 256,
      timeoutSeconds: 30,
      settings: FUNCTION_SETTINGS.publish,
      environment: configuredEnvironment(FUNCTION_SETTINGS.publish, { table }),
      tableAccess: 'publish',
      // One batch per shard at a time, as the stream's event source invokes it.
      maxConcurrency: 1,
    },
    deliver: {
      handlerFile: 'deliver',
      description: "POSTs the crawls' webhook deliveries, signed, and retries those that failed with backoff",
      memorySize: 256,
      timeoutSeconds: DELIVER_TIMEOUT_SECONDS,
      settings: FUNCTION_SETTINGS.deliver,
      environment: configuredEnvironment(FUNCTION_SETTINGS.deliver, {
        timeoutMs: config.webhooks.timeoutMs,
        connectTimeoutMs: config.webhooks.connectTimeoutMs,
        retryBaseSeconds: config.webhooks.retryBaseSeconds,
        concurrency: config.webhooks.concurrency,
      }),
      // Also the event source's maximumConcurrency on AWS: receivers are not flooded when many crawls end at once.
      maxConcurrency: config.webhooks.maxConcurrency,
    },
  };
}
