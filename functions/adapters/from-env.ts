import { ENV, numberOr, requireString } from '../env.js';
import { DynamoCrawlStore } from './dynamo-store.js';
import { SqsPageQueue } from './sqs-queue.js';

/** Adapters configured from the function's environment; each call site keeps the result at module scope. */
export const storeFromEnv = () =>
  new DynamoCrawlStore({ tableName: requireString(ENV.tableName), retentionDays: numberOr(ENV.retentionDays, 30) });

export const queueFromEnv = () => new SqsPageQueue({ queueUrl: requireString(ENV.queueUrl) });
