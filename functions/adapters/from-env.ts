import { ENV, numberOr, requireString } from '../env.js';
import { createDocumentClient, DynamoCrawlStore } from './dynamodb/index.js';
import { SqsPageQueue } from './sqs-queue.js';

/** Adapters configured from the function's environment; each call site keeps the result at module scope. */
export const tableNameFromEnv = () => requireString(ENV.tableName);

/** One DynamoDB client per container, shared by the adapters a function builds. */
export const documentClient = createDocumentClient();

export const storeFromEnv = () =>
  new DynamoCrawlStore({ tableName: tableNameFromEnv(), retentionDays: numberOr(ENV.retentionDays, 30), client: documentClient });

export const queueFromEnv = () => new SqsPageQueue({ queueUrl: requireString(ENV.queueUrl) });
