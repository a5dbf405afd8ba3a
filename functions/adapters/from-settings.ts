import type { QUEUE_SETTINGS, TABLE_SETTINGS } from '../settings/resources.js';
import type { SettingsValues } from '../settings/setting.js';
import { createDocumentClient, DynamoCrawlStore, DynamoReconcileStore } from './dynamodb/index.js';
import { DynamoHostPacer } from './dynamodb/host-pace.js';
import { DynamoRobotsStore } from './dynamodb/robots-cache.js';
import { SqsPageQueue } from './sqs-queue.js';

/**
 * The adapters, built from the settings a function read at cold start (functions/settings/); each call site keeps the
 * result at module scope.
 */

/** One DynamoDB client per container, shared by the adapters a function builds. */
const documentClient = createDocumentClient();

export const crawlStore = (table: SettingsValues<typeof TABLE_SETTINGS>) => new DynamoCrawlStore({ ...table, client: documentClient });

export const reconcileStore = (table: SettingsValues<typeof TABLE_SETTINGS>) => new DynamoReconcileStore(documentClient, table.tableName);

/** The hosts' pace, shared by every consumer through the table. */
export const hostPacer = (table: SettingsValues<typeof TABLE_SETTINGS>) => new DynamoHostPacer({ db: documentClient, name: table.tableName });

/** The robots.txt cache, shared by every consumer through the table. */
export const robotsStore = (table: SettingsValues<typeof TABLE_SETTINGS>) => new DynamoRobotsStore({ db: documentClient, name: table.tableName });

export const pageQueue = (queue: SettingsValues<typeof QUEUE_SETTINGS>) => new SqsPageQueue(queue);
