import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { EventBridgePublisher } from '../adapters/event-bus.js';
import { crawlStore } from '../adapters/from-settings.js';
import { tableChangeOf } from '../adapters/table-stream.js';
import { SqsWebhookQueue } from '../adapters/webhook-queue.js';
import { CrawlCache } from '../core/crawl/crawl-cache.js';
import { publishChanges } from '../core/events/publish-changes.js';
import { PUBLISH_SETTINGS } from '../settings/publish.js';
import { loadSettings } from '../settings/setting.js';
import { logger, metrics } from './observability.js';

// Settings and adapters at module scope: read and built once per container.
const settings = loadSettings(PUBLISH_SETTINGS);
const bus = new EventBridgePublisher({
  busName: settings.events.busName,
  onTooLarge: (event, bytes) => logger.error('event too large for PutEvents; it cannot be put', { detailType: event.detailType, crawlId: event.crawlId, bytes }),
});
const deliveries = new SqsWebhookQueue(settings.webhooks);
/** A crawl's webhook is fixed when it starts: one read per crawl a minute serves all its changed pages. */
const CRAWL_CACHE_MS = 60_000;
const crawls = new CrawlCache(crawlStore(settings.table), CRAWL_CACHE_MS);

/**
 * Invoked by the table's stream (filtered to completed crawls and changed pages: functions/adapters/stream-filters.ts).
 * Records whose event or delivery did not go out are reported by sequence number; the stream delivers again from the
 * first of them.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const report = await publishChanges(event.Records.map(tableChangeOf), { bus, deliveries, crawl: (crawlId) => crawls.get(crawlId) });
  for (const { id, reason } of report.errors) logger.error('change not published; the stream will deliver it again', { sequenceNumber: id, reason });
  metrics.addMetric('EventsPublished', MetricUnit.Count, report.published);
  metrics.addMetric('WebhookDeliveriesQueued', MetricUnit.Count, report.queued);
  metrics.publishStoredMetrics();
  return { batchItemFailures: report.failed.map((itemIdentifier) => ({ itemIdentifier })) };
};
