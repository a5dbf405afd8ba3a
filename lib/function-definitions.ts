import { CONSUME_SETTINGS } from '../functions/settings/consume.js';
import { READ_SETTINGS } from '../functions/settings/read.js';
import { RECONCILE_SETTINGS } from '../functions/settings/reconcile.js';
import { configuredEnvironment, type Settings } from '../functions/settings/setting.js';
import { SUBMIT_SETTINGS } from '../functions/settings/submit.js';
import type { HandlerFile } from './bundling.js';
import type { CrawlerConfig } from './config.js';
import { runningCrawlsIndex } from './resources.js';

/**
 * The crawler's functions as plain data: the CDK stack builds its Lambda functions from these and the local stack
 * runs its containers from the same ones (bundle, memory, timeout, environment, concurrency), so the two cannot
 * drift. No CDK imports: the local stack loads this cheaply.
 */

export type CrawlerFunctionName = 'submit' | 'read' | 'consume' | 'reconcile';

/**
 * What each function may do to the table: only the actions its code calls (TransactWriteItems needs Put/Update).
 * submit also serves DELETE /crawls/{crawlId}, a write the read function may not do: an UpdateItem and a GetItem.
 */
export const TABLE_ACCESS = {
  submit: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem'],
  consume: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  // BatchGetItem: GET /crawls reads the listed crawls' items in batches.
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
  reconcile: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
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
  readonly tableAccess: TableAccess;
  /**
   * Containers at most in the local stack. For the consumer it is also the event source's maximumConcurrency on AWS;
   * for the reconciler it is local only (AWS gets no reserved concurrency: see lib/reconciler.ts).
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
} satisfies Record<CrawlerFunctionName, Settings>;

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
  };
}
