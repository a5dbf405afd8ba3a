import { WEBHOOK_MAX_RECEIVE_COUNT } from '../functions/core/webhooks/retry-schedule.js';
import type { CrawlerConfig } from './config.js';

/**
 * Table and queue definitions shared by the CDK stack (lib/) and the local stack (local/), so that the two cannot
 * drift: both build their resources from these values and nothing else. Plain data, no CDK imports, so the local
 * stack can load it cheaply.
 */

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S';
}

export interface TableDefinition {
  readonly logicalName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** Epoch seconds after which DynamoDB may delete the item. */
  readonly timeToLiveAttribute: string;
  readonly globalIndexes: readonly IndexDefinition[];
  /** The table's stream: what the publish function turns into events (the table is the truth). */
  readonly stream: 'NEW_AND_OLD_IMAGES';
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** Only the keys: the index is then written when they change, not when a crawl's counters do. */
  readonly projection: 'KEYS_ONLY';
}

/**
 * The running crawls, for the reconciler: a sparse index on an attribute only a running crawl item has. Keys only, so
 * a crawl's index entry is written when it starts and when it ends, not with every page.
 */
export const runningCrawlsIndex: IndexDefinition = {
  indexName: 'running',
  partitionKey: { name: 'runningShard', type: 'S' },
  sortKey: { name: 'PK', type: 'S' },
  projection: 'KEYS_ONLY',
};

/** One table: crawls, the page summaries of each crawl, the links seen by each crawl, and the latest summary per URL. */
export const crawlTable: TableDefinition = {
  logicalName: 'crawls',
  partitionKey: { name: 'PK', type: 'S' },
  sortKey: { name: 'SK', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalIndexes: [runningCrawlsIndex],
  // Old and new images: a crawl's completion is the change that adds completedAt, which only both images show.
  stream: 'NEW_AND_OLD_IMAGES',
};

export interface QueueDefinition {
  readonly logicalName: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly receiveWaitTimeSeconds: number;
}

export interface QueuePairDefinition {
  readonly queue: QueueDefinition;
  readonly deadLetterQueue: QueueDefinition;
  readonly maxReceiveCount: number;
}

/**
 * The page queue, its dead-letter queue, and the turn queue: URLs sent away until their host's turn (a reserved slot)
 * come back on a queue of their own, ahead of any backlog of new URLs on the page queue (which SQS hands out roughly in
 * the order they became visible), so they are back for their slots. The consume function reads both; both dead-letter
 * to the one DLQ after the same number of receives.
 */
export interface PageQueuesDefinition extends QueuePairDefinition {
  readonly turnQueue: QueueDefinition;
}

/**
 * AWS's guidance for an SQS event source: visibility timeout at least 6× the function timeout, so that a message is
 * not handed to a second consumer while the first one (and Lambda's own retries of throttled batches) still holds it.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
const FOUR_DAYS = 4 * 24 * 3600;
const FOURTEEN_DAYS = 14 * 24 * 3600;

export function crawlQueues(config: CrawlerConfig): PageQueuesDefinition {
  return {
    queue: {
      logicalName: 'pages',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_FACTOR * config.consumer.timeoutSeconds,
      retentionSeconds: FOUR_DAYS,
      receiveWaitTimeSeconds: 20,
    },
    turnQueue: {
      logicalName: 'page-turns',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_FACTOR * config.consumer.timeoutSeconds,
      retentionSeconds: FOUR_DAYS,
      receiveWaitTimeSeconds: 20,
    },
    // The DLQ keeps messages longer than the queue, so a failure found late can still be redriven.
    deadLetterQueue: {
      logicalName: 'pages-dlq',
      visibilityTimeoutSeconds: 30,
      retentionSeconds: FOURTEEN_DAYS,
      receiveWaitTimeSeconds: 0,
    },
    maxReceiveCount: config.queue.maxReceiveCount,
  };
}

/** The deliver function's timeout: a batch of deliveries, each POST within its fetch deadline. */
export const DELIVER_TIMEOUT_SECONDS = 60;

/**
 * The webhook delivery queue and its DLQ. A failed delivery is hidden for its retry's delay (ChangeMessageVisibility,
 * functions/core/webhooks/retry-schedule.ts) and comes back; the receive after the schedule's last delay is its last,
 * then SQS moves it to the DLQ. The queue keeps a message longer than the whole schedule.
 */
export function webhookQueues(): QueuePairDefinition {
  return {
    queue: {
      logicalName: 'webhooks',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_FACTOR * DELIVER_TIMEOUT_SECONDS,
      retentionSeconds: FOUR_DAYS,
      receiveWaitTimeSeconds: 20,
    },
    deadLetterQueue: {
      logicalName: 'webhooks-dlq',
      visibilityTimeoutSeconds: 30,
      retentionSeconds: FOURTEEN_DAYS,
      receiveWaitTimeSeconds: 0,
    },
    maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT,
  };
}

/**
 * Where the table's stream records go that the publish function failed on through all its retries (Lambda's
 * on-failure destination sends their description: shard, sequence numbers, not the records), kept as long as SQS can.
 */
export const publishFailureQueue: QueueDefinition = {
  logicalName: 'publish-failures',
  visibilityTimeoutSeconds: 30,
  retentionSeconds: FOURTEEN_DAYS,
  receiveWaitTimeSeconds: 0,
};
