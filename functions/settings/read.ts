import { TABLE_SETTINGS } from './resources.js';
import type { Settings } from './setting.js';

/** The read function only reads the table. */
export const READ_SETTINGS = {
  table: TABLE_SETTINGS,
} satisfies Settings;
