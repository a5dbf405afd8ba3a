import type { RunningCrawl } from '../model/crawl.js';
import type { SitemapReconcileStore, SitemapSender, SitemapStore } from './ports.js';
import { toMessage } from './sitemap-message.js';

/** What the reconciler needs for a crawl's sitemap work: its records, and the queue to put lost work back on. */
export interface SitemapReconcileDeps {
  store: SitemapReconcileStore & Pick<SitemapStore, 'endSitemap'>;
  queue: SitemapSender;
}

export interface SitemapReconcileReport {
  /** Sitemap tasks queued again. */
  requeued: number;
  /** Sitemap tasks ended without being read (requeued too often, or their crawl was cancelled). */
  ended: number;
}

/**
 * A stalled crawl's sitemap work, as its URLs are reconciled: a pending task whose message was lost (no delivery said
 * lately it will retry) is queued again, up to `maxRequeues` times, then ended as UNPROCESSED so the crawl completes.
 * A cancelled crawl's pending tasks all end now (nothing more is read for it).
 */
export async function reconcileSitemaps(
  crawl: Pick<RunningCrawl, 'crawlId' | 'cancelled'>,
  deps: SitemapReconcileDeps,
  settings: { maxRequeues: number },
  cutoff: string,
): Promise<SitemapReconcileReport> {
  const report: SitemapReconcileReport = { requeued: 0, ended: 0 };
  const pending = await deps.store.unfinishedSitemaps(crawl.crawlId);
  const lost = crawl.cancelled ? pending : pending.filter((task) => task.retriedAt === undefined || task.retriedAt <= cutoff);
  const exhausted = crawl.cancelled ? lost : lost.filter((task) => task.requeues >= settings.maxRequeues);
  const again = crawl.cancelled ? [] : lost.filter((task) => task.requeues < settings.maxRequeues);
  for (const task of exhausted) {
    const error = crawl.cancelled
      ? { code: 'CANCELLED', message: 'the crawl was cancelled before this sitemap was read' }
      : { code: 'UNPROCESSED', message: `queued ${task.requeues + 1} times and never processed: its messages were lost or dead-lettered` };
    if (await deps.store.endSitemap(crawl.crawlId, task, { pages: 0, sitemaps: 0, error })) report.ended++;
  }
  if (again.length > 0) {
    // Counted before sending, as URLs are: a pass that dies after the send has still used up a round.
    await deps.store.markSitemapsRequeued(crawl.crawlId, again);
    const unsent = await deps.queue.send(again.map((task) => toMessage(crawl.crawlId, task)));
    report.requeued += again.length - unsent.length;
  }
  return report;
}
