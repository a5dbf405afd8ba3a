import { QUEUE_SETTINGS, TABLE_SETTINGS } from './resources.js';
import type { Settings } from './setting.js';

/** The submit function records crawls and queues their seeds. */
export const SUBMIT_SETTINGS = {
  table: TABLE_SETTINGS,
  queue: QUEUE_SETTINGS,
} satisfies Settings;
