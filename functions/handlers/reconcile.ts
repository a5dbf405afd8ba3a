import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { crawlStore, pageQueue, reconcileStore } from '../adapters/from-settings.js';
import { reconcile, type ReconcileReport } from '../core/crawl/reconcile.js';
import { RECONCILE_SETTINGS } from '../settings/reconcile.js';
import { loadSettings } from '../settings/setting.js';
import { logger, metrics } from './observability.js';

// Settings and adapters at module scope: read and built once per container.
const settings = loadSettings(RECONCILE_SETTINGS);
const store = crawlStore(settings.table);
const queue = pageQueue(settings.queue);
const turnQueue = pageQueue(settings.turnQueue);
/** Messages waiting to be received on both queues the consumer reads: URLs back for their host's turn count too. */
const backlog = async () => (await Promise.all([queue.backlog(), turnQueue.backlog()])).reduce((a, b) => a + b, 0);
const crawlsToReconcile = reconcileStore(settings.table);

/** Invoked by its schedule (every minute): one pass over the running crawls. */
export const handler = async (): Promise<ReconcileReport> => {
  const report = await reconcile(
    {
      reconcileStore: crawlsToReconcile,
      store,
      queue,
      backlog,
      sitemaps: { store: store.sitemapStore(), queue },
      onError: (crawlId, err) => logger.error('could not reconcile a crawl; the next pass tries again', { crawlId, error: err as Error }),
    },
    { afterSeconds: settings.afterSeconds, maxRequeues: settings.maxRequeues },
  );
  // A cancelled crawl's URLs ended here are the normal end of a cancel, not a sign of trouble: info, below.
  const repaired = report.requeued > 0 || report.failed > 0 || (report.completed > 0 && report.cancelled === 0);
  if (repaired) logger.warn('reconciled stalled crawls', { ...report });
  if (report.backlog > 0 && report.stalled > 0) logger.info('stalled crawls left alone while the queue has a backlog', { ...report });
  if (report.cancelled > 0) logger.info('ended the unfinished URLs of cancelled crawls as CANCELLED', { cancelled: report.cancelled, completed: report.completed });
  if (report.inconsistent.length > 0) logger.error('crawls whose counts have no unfinished URL to requeue', { crawls: report.inconsistent });
  metrics.addMetric('CrawlsInconsistent', MetricUnit.Count, report.inconsistent.length);
  metrics.addMetric('ReconcileErrors', MetricUnit.Count, report.errors);
  metrics.addMetric('UrlsRequeued', MetricUnit.Count, report.requeued);
  metrics.addMetric('UrlsUnprocessed', MetricUnit.Count, report.failed);
  metrics.addMetric('UrlsCancelled', MetricUnit.Count, report.cancelled);
  metrics.publishStoredMetrics();
  return report;
};
