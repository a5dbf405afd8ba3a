import { integer, resource } from './setting.js';

/** What every function that uses the crawl table reads: its name (bound with the access the function needs) and how long items live. */
export const TABLE_SETTINGS = {
  tableName: resource('table', { env: 'CRAWL_TABLE_NAME', doc: "The crawl table's name." }),
  retentionDays: integer({
    env: 'RETENTION_DAYS',
    doc: 'Days before crawls and summaries expire through DynamoDB TTL.',
    min: 1,
    max: 3650,
    default: 30,
  }),
};

/** What every function that queues pages reads: the page queue (bound with permission to send). */
export const QUEUE_SETTINGS = {
  queueUrl: resource('queue', { env: 'PAGE_QUEUE_URL', doc: "The page queue's URL." }),
};

/**
 * What the consumer reads to send a URL away until its host's turn: the turn queue (bound with permission to send; the
 * consumer's second event source reads it). Its own queue, so a URL coming back for the slot it reserved is not
 * delivered behind a crawl's backlog of new URLs on the page queue, long after its slot.
 */
export const TURN_QUEUE_SETTINGS = {
  queueUrl: resource('turnQueue', { env: 'TURN_QUEUE_URL', doc: "The turn queue's URL: URLs waiting for their host's turn." }),
};

/** What the functions that send or retry webhook deliveries read: the webhook delivery queue (bound with the access each needs). */
export const WEBHOOK_QUEUE_SETTINGS = {
  queueUrl: resource('webhookQueue', { env: 'WEBHOOK_QUEUE_URL', doc: "The webhook delivery queue's URL." }),
};
