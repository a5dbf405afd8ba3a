import { ENV } from '../functions/env.js';
import type { HandlerFile } from './bundling.js';
import type { CrawlerConfig } from './config.js';
import { consumerEnvironment, runningCrawlsIndex } from './resources.js';

/**
 * The crawler's functions as plain data: the CDK stack builds its Lambda functions from these and the local stack
 * runs its containers from the same ones (bundle, memory, timeout, environment, concurrency), so the two cannot
 * drift. No CDK imports: the local stack loads this cheaply.
 */

export type CrawlerFunctionName = 'submit' | 'read' | 'consume' | 'reconcile';

/** What each function may do to the table: only the actions its code calls (TransactWriteItems needs Put/Update). */
export const TABLE_ACCESS = {
  submit: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem'],
  consume: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  read: ['dynamodb:GetItem', 'dynamodb:Query'],
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
  /** The function's settings; the resources it is bound to add their own variables (see boundEnvironment). */
  readonly environment: Readonly<Record<string, string>>;
  readonly tableAccess: TableAccess;
  /** Whether it sends to the page queue. */
  readonly sendsPages: boolean;
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

export function functionDefinitions(config: CrawlerConfig): Record<CrawlerFunctionName, FunctionDefinition> {
  return {
    submit: {
      handlerFile: 'submit',
      description: 'Validates a crawl request, records the crawl and queues one message per URL',
      memorySize: 512,
      // API Gateway's integration timeout.
      timeoutSeconds: 29,
      environment: {},
      tableAccess: 'submit',
      sendsPages: true,
    },
    read: {
      handlerFile: 'read',
      description: 'Serves crawl status, crawl pages and the latest summary of a URL',
      memorySize: 256,
      timeoutSeconds: 10,
      environment: {},
      tableAccess: 'read',
      sendsPages: false,
    },
    consume: {
      handlerFile: 'consume',
      description: 'Fetches and summarizes pages from the page queue',
      memorySize: config.consumer.memorySize,
      timeoutSeconds: config.consumer.timeoutSeconds,
      environment: consumerEnvironment(config),
      tableAccess: 'consume',
      sendsPages: true,
      maxConcurrency: config.consumer.maxConcurrency,
    },
    reconcile: {
      handlerFile: 'reconcile',
      description: 'Queues again the counted URLs of stalled crawls that have no outcome, and ends those queued too often',
      memorySize: 512,
      timeoutSeconds: 300,
      environment: {
        [ENV.reconcileAfterSeconds]: String(config.reconcile.afterSeconds),
        [ENV.reconcileMaxRequeues]: String(config.reconcile.maxRequeues),
      },
      tableAccess: 'reconcile',
      sendsPages: true,
      maxConcurrency: 1,
    },
  };
}

/** The variables the table and queue bindings add (the CDK's bind methods set exactly these). */
export function bindingEnvironment(
  def: FunctionDefinition,
  resources: { tableName: string; queueUrl: string },
  config: CrawlerConfig,
): Record<string, string> {
  return {
    [ENV.tableName]: resources.tableName,
    [ENV.retentionDays]: String(config.retentionDays),
    ...(def.sendsPages ? { [ENV.queueUrl]: resources.queueUrl } : {}),
  };
}
