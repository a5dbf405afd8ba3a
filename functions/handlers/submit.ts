import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod/mini';
import { crawlIdForEvent, startScheduledRun, submitCrawl } from '../core/crawl/submit-crawl.js';
import { cancelCrawl } from '../core/crawl/cancel-crawl.js';
import { crawlStore, pageQueue } from '../adapters/from-settings.js';
import { loadSettings } from '../settings/setting.js';
import { SUBMIT_SETTINGS } from '../settings/submit.js';
import { apiBaseUrl, json, parseJsonBody, respond } from './http.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from './observability.js';

// Settings and adapters (and their SDK clients) at module scope: read and built once per container.
const settings = loadSettings(SUBMIT_SETTINGS);
const store = crawlStore(settings.table);
const queue = pageQueue(settings.queue);

/** What an EventBridge schedule sends (lib/schedules.ts builds it): the crawl to start, and the schedule's name. */
export const scheduledCrawlSchema = z.object({
  source: z.literal('serverless-crawler.schedule'),
  schedule: z.string(),
  crawl: z.unknown(),
  /** The EventBridge event's id and time: one crawl per event, however often Lambda retries the invocation. */
  eventId: z.optional(z.string().check(z.minLength(1))),
  time: z.optional(z.iso.datetime()),
});
export type ScheduledCrawlEvent = z.infer<typeof scheduledCrawlSchema>;

async function onHttp(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  return respond(logger, async () => {
    const result = await submitCrawl(parseJsonBody(event), { kind: 'api' }, { store, queue, sitemapQueue: queue, policy: settings.policy });
    logger.info('crawl submitted', { crawlId: result.crawlId, accepted: result.accepted, rejected: result.rejected.length, unqueued: result.unqueued });
    countSubmission(result);
    const statusPath = `/crawls/${result.crawlId}`;
    const base = apiBaseUrl(event);
    return json(202, {
      crawlId: result.crawlId,
      accepted: result.accepted,
      rejected: result.rejected,
      statusUrl: base ? `${base}${statusPath}` : statusPath,
      // Only when the queue failed some URLs even after retries: they are recorded as failed (ENQUEUE_FAILED).
      ...(result.unqueued > 0 ? { unqueued: result.unqueued } : {}),
    });
  });
}

async function onSchedule(event: ScheduledCrawlEvent): Promise<{ crawlId: string; accepted: number }> {
  const crawlId = event.eventId ? crawlIdForEvent(`${event.schedule}/${event.eventId}`, event.time ? new Date(event.time) : new Date()) : undefined;
  const result = await startScheduledRun(event.crawl, event.schedule, { store, queue, sitemapQueue: queue, policy: settings.policy }, crawlId ? { crawlId } : {});
  if (result.duplicate) {
    logger.info('scheduled crawl already submitted by an earlier try of this event', { schedule: event.schedule, crawlId: result.crawlId });
    return { crawlId: result.crawlId, accepted: result.accepted };
  }
  if (result.skipped) {
    logger.warn('scheduled run skipped: the previous run is still running', { schedule: event.schedule, crawlId: result.crawlId });
    metrics.addMetric('ScheduledRunsSkipped', MetricUnit.Count, 1);
    return { crawlId: result.crawlId, accepted: 0 };
  }
  logger.info('scheduled crawl submitted', { schedule: event.schedule, crawlId: result.crawlId, accepted: result.accepted });
  countSubmission(result);
  return { crawlId: result.crawlId, accepted: result.accepted };
}

/** Crawls started and the URLs they brought, as EMF metrics published with this invocation's logs. */
function countSubmission(result: { accepted: number; rejected: unknown[]; unqueued: number }): void {
  metrics.addMetric('CrawlsSubmitted', MetricUnit.Count, 1);
  metrics.addMetric('UrlsAccepted', MetricUnit.Count, result.accepted);
  metrics.addMetric('UrlsRejected', MetricUnit.Count, result.rejected.length);
  if (result.unqueued > 0) metrics.addMetric('UrlsUnqueued', MetricUnit.Count, result.unqueued);
  metrics.publishStoredMetrics();
}

/**
 * DELETE /crawls/{crawlId}: a write, so not the read function's (read grants only). This function writes crawl items
 * already, and a cancel is one conditional UpdateItem and a GetItem it is granted: no grant is added anywhere
 * (TABLE_ACCESS in lib/function-definitions.ts), where a function of its own would add a Lambda, a role and a log
 * group for one route.
 */
async function onCancel(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  return respond(logger, async () => {
    const crawl = await cancelCrawl(event.pathParameters?.['crawlId'] ?? '', { store });
    logger.info('crawl cancelled', { crawlId: crawl.crawlId, cancelledAt: crawl.cancelledAt, completed: crawl.completedAt !== undefined });
    metrics.addMetric('CrawlsCancelled', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    return json(202, crawl);
  });
}

export const handler = async (event: APIGatewayProxyEvent | ScheduledCrawlEvent) => {
  if ('httpMethod' in event) return event.httpMethod === 'DELETE' ? onCancel(event) : onHttp(event);
  const scheduled = scheduledCrawlSchema.safeParse(event);
  if (!scheduled.success) {
    // Neither API Gateway nor our schedule: a misconfigured trigger. Fail loudly so it shows in the function's errors.
    logger.error('unrecognized event', { issues: scheduled.error.issues });
    throw new Error('submit handler received an event that is neither an API request nor a schedule');
  }
  return onSchedule(scheduled.data);
};
