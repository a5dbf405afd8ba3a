import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoReconcileStore } from '../adapters/dynamodb/index.js';
import { documentClient, queueFromEnv, storeFromEnv, tableNameFromEnv } from '../adapters/from-env.js';
import { reconcile, type ReconcileReport } from '../core/crawl/reconcile.js';
import { ENV, numberOr } from '../env.js';
import { logger, metrics } from './observability.js';

// Adapters and settings at module scope: built and read once per container.
const store = storeFromEnv();
const queue = queueFromEnv();
const reconcileStore = new DynamoReconcileStore(documentClient, tableNameFromEnv());
const settings = {
  afterSeconds: numberOr(ENV.reconcileAfterSeconds, 900),
  maxRequeues: numberOr(ENV.reconcileMaxRequeues, 3),
};

/** Invoked by its schedule (every minute): one pass over the running crawls. */
export const handler = async (): Promise<ReconcileReport> => {
  const report = await reconcile(
    {
      reconcileStore,
      store,
      queue,
      backlog: () => queue.backlog(),
      onError: (crawlId, err) => logger.error('could not reconcile a crawl; the next pass tries again', { crawlId, error: err as Error }),
    },
    settings,
  );
  if (report.requeued > 0 || report.failed > 0 || report.completed > 0) logger.warn('reconciled stalled crawls', { ...report });
  if (report.backlog > 0 && report.stalled > 0) logger.info('stalled crawls left alone while the queue has a backlog', { ...report });
  if (report.inconsistent.length > 0) logger.error('crawls whose counts have no unfinished URL to requeue', { crawls: report.inconsistent });
  metrics.addMetric('CrawlsInconsistent', MetricUnit.Count, report.inconsistent.length);
  metrics.addMetric('ReconcileErrors', MetricUnit.Count, report.errors);
  metrics.addMetric('UrlsRequeued', MetricUnit.Count, report.requeued);
  metrics.addMetric('UrlsUnprocessed', MetricUnit.Count, report.failed);
  metrics.publishStoredMetrics();
  return report;
};
