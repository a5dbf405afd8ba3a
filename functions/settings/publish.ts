import { TABLE_SETTINGS, WEBHOOK_QUEUE_SETTINGS } from './resources.js';
import { resource, type Settings } from './setting.js';

/**
 * The publish function reads the table's stream (its event source, no setting), the crawl items of changed pages
 * (for their webhooks), puts the events on the bus and queues the webhook deliveries.
 */
export const PUBLISH_SETTINGS = {
  table: TABLE_SETTINGS,
  events: {
    busName: resource('eventBus', { env: 'EVENT_BUS_NAME', doc: 'The EventBridge bus the crawl and page events are put on (the default bus).' }),
  },
  webhooks: WEBHOOK_QUEUE_SETTINGS,
} satisfies Settings;
