import { CRAWL_LIMIT_SETTINGS, POLITENESS_SETTINGS } from './politeness.js';
import { QUEUE_SETTINGS, TABLE_SETTINGS } from './resources.js';
import type { Settings } from './setting.js';

/** The submit function records crawls and queues their seeds. */
export const SUBMIT_SETTINGS = {
  table: TABLE_SETTINGS,
  queue: QUEUE_SETTINGS,
  /** What a request leaves out, and its bound: shaped as the core's SubmitPolicy. */
  policy: {
    maxPagesPerCrawl: CRAWL_LIMIT_SETTINGS.maxPagesPerCrawl,
    hostDelayMs: POLITENESS_SETTINGS.hostDelayMs,
  },
} satisfies Settings;
