import { META, PAGE_PREFIX } from './dynamodb/keys.js';

/**
 * Which of the table's stream records the publish function is given: Lambda's event filter patterns (EventBridge
 * pattern syntax, over the record as Lambda sees it, images in DynamoDB JSON). Every page and count moves the crawl
 * item, so without them the function would run for every write; with them, once per completed crawl and changed page.
 * The CDK sets these on the event source (lib/events.ts) and the local stream source applies the same
 * (local/stream-source.ts). The publish function still checks each record itself (core/events): a filter narrows,
 * it does not decide.
 */
export const PUBLISH_STREAM_FILTERS = [
  // A crawl item that gets its completedAt (crawl-lifecycle.ts sets it once).
  {
    dynamodb: {
      Keys: { SK: { S: [META] } },
      NewImage: { completedAt: { S: [{ exists: true }] } },
      OldImage: { completedAt: { S: [{ exists: false }] } },
    },
  },
  // A page item recorded (record-once.ts puts it once) as changed since the URL's previous summary.
  {
    eventName: ['INSERT'],
    dynamodb: {
      Keys: { SK: { S: [{ prefix: PAGE_PREFIX }] } },
      NewImage: { change: { S: ['changed'] } },
    },
  },
] as const satisfies readonly Record<string, unknown>[];
