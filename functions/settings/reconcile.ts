import { QUEUE_SETTINGS, TABLE_SETTINGS, TURN_QUEUE_SETTINGS } from './resources.js';
import { integer, type Settings } from './setting.js';

/** The reconciler reads the running crawls from the table and queues their lost URLs again. */
export const RECONCILE_SETTINGS = {
  table: TABLE_SETTINGS,
  queue: QUEUE_SETTINGS,
  /** Read for its backlog only: URLs back from their wait for a turn are the crawl's too. */
  turnQueue: TURN_QUEUE_SETTINGS,
  afterSeconds: integer({
    env: 'RECONCILE_AFTER_SECONDS',
    doc:
      'A running crawl that recorded nothing for this long is checked: each counted URL with no outcome is queued again. ' +
      'Longer than the longest legitimate quiet spell (a retry delay, a slow batch), or pages in a backoff would be fetched twice.',
    min: 1,
    max: 86_400,
    default: 900,
  }),
  maxRequeues: integer({
    env: 'RECONCILE_MAX_REQUEUES',
    doc: 'Times one URL is queued again before it ends as failed (UNPROCESSED) with its reason.',
    min: 0,
    max: 100,
    default: 3,
  }),
} satisfies Settings;
