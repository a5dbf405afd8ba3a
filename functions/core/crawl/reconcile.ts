import type { RunningCrawl, UnfinishedUrl } from '../model/crawl.js';
import type { PageMessage } from '../model/page-message.js';
import type { CrawlStore, PageSender, ReconcileStore } from '../model/ports.js';
import { failedSummary } from '../model/summary.js';
import { endCancelledUrls } from './cancel-crawl.js';
import { reconcileSitemaps, type SitemapReconcileDeps } from '../sitemap/reconcile-sitemaps.js';

/**
 * The table is the truth, the queue a hint. Every URL counted in a crawl's `total` has a record before its message
 * is sent, so whatever loses a message (a purged queue, a message dead-lettered, a consumer or a submit that died
 * between counting and queueing, a page whose links differ on its retry) leaves a counted URL with no outcome. A crawl
 * in that state stops making progress; this finds it, queues each such URL again, and after `maxRequeues` rounds
 * records it as failed with its reason, so every crawl completes with exact counts.
 */

export interface ReconcileSettings {
  /** A running crawl with no progress for this long is checked. */
  afterSeconds: number;
  /** Requeues of one URL before it ends as failed. */
  maxRequeues: number;
}

export interface ReconcileDeps {
  reconcileStore: ReconcileStore;
  store: Pick<CrawlStore, 'recordPages' | 'completeIfDone'>;
  queue: PageSender;
  /** Messages waiting on the page queue to be received (not those in flight or delayed). */
  backlog: () => Promise<number>;
  now?: () => Date;
  /** The crawls' sitemap work (core/sitemap/), reconciled with their URLs; none when not given. */
  sitemaps?: SitemapReconcileDeps;
  /** Told of a crawl this pass could not reconcile; the pass goes on with the others. */
  onError?: (crawlId: string, err: unknown) => void;
}

export interface ReconcileReport {
  /** Running crawls seen. */
  running: number;
  /** Of those, crawls with no progress for `afterSeconds`, which were checked. */
  stalled: number;
  /** URLs queued again. */
  requeued: number;
  /** URLs ended as failed after too many requeues. */
  failed: number;
  /** Crawls this pass completed. */
  completed: number;
  /** Lost sitemap work queued again, and sitemap work ended unread (too many requeues, or a cancelled crawl). */
  sitemapsRequeued?: number;
  sitemapsEnded?: number;
  /** URLs of cancelled crawls this pass ended as CANCELLED. */
  cancelled: number;
  /** Stalled crawls whose counts say URLs are pending that have no record to queue again (should never happen). */
  inconsistent: string[];
  /** Messages waiting on the queue when the pass started; while there are any, nothing is requeued or ended. */
  backlog: number;
  /** Stalled crawls that could not be reconciled this pass (see onError). */
  errors: number;
}

export const UNPROCESSED = 'UNPROCESSED';

export async function reconcile(deps: ReconcileDeps, settings: ReconcileSettings): Promise<ReconcileReport> {
  const now = (deps.now ?? (() => new Date()))();
  const at = now.toISOString();
  const cutoff = new Date(now.getTime() - settings.afterSeconds * 1000).toISOString();
  const running = await deps.reconcileStore.runningCrawls();
  const stalled = running.filter((crawl) => !crawl.cancelled && crawl.progressAt <= cutoff);
  const report: ReconcileReport = { running: running.length, stalled: stalled.length, requeued: 0, failed: 0, completed: 0, cancelled: 0, inconsistent: [], backlog: 0, errors: 0 };
  // A cancelled crawl's unfinished URLs end now, on every pass: nothing is queued for them, so neither a quiet period
  // nor a backlog is worth waiting for (a message still on the queue finds its URL ended and counts nothing).
  for (const crawl of running.filter((c) => c.cancelled)) {
    try {
      // Its pending sitemap work ends first, so the crawl can complete with its URLs.
      if (deps.sitemaps) noteSitemaps(report, await reconcileSitemaps(crawl, deps.sitemaps, settings, at));
      const { ended, completed } = await endCancelledUrls(crawl.crawlId, deps);
      report.cancelled += ended;
      if (completed) report.completed++;
    } catch (err) {
      report.errors++;
      deps.onError?.(crawl.crawlId, err);
    }
  }
  if (stalled.length === 0) return report;
  // Messages still waiting to be received: a crawl that recorded nothing may only be waiting its turn behind them
  // (a backlog, a consumer outage). Its messages are not lost, and queueing more would only lengthen the wait.
  report.backlog = await deps.backlog();
  if (report.backlog > 0) return report;
  // In random order, each on its own: one crawl that fails cannot starve the others pass after pass.
  for (const crawl of shuffle(stalled)) {
    try {
      // Taken by a conditional write of its progress time: an overlapping pass skips it, and it is checked again only
      // after another quiet period.
      if (!(await deps.reconcileStore.claimCrawl(crawl.crawlId, crawl.progressAt, at))) continue;
      await reconcileCrawl(crawl, deps, settings, at, cutoff, report);
    } catch (err) {
      report.errors++;
      deps.onError?.(crawl.crawlId, err);
    }
  }
  return report;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

async function reconcileCrawl(
  crawl: RunningCrawl,
  deps: ReconcileDeps,
  settings: ReconcileSettings,
  at: string,
  cutoff: string,
  report: ReconcileReport,
): Promise<void> {
  const unfinished = await deps.reconcileStore.unfinishedUrls(crawl.crawlId);
  // A URL whose delivery said lately that it will be retried still has its message: not lost (yet).
  const lost = unfinished.filter((u) => u.retriedAt === undefined || u.retriedAt <= cutoff);
  const exhausted = lost.filter((u) => u.requeues >= settings.maxRequeues);
  const again = lost.filter((u) => u.requeues < settings.maxRequeues);

  if (exhausted.length > 0) {
    const outcomes = await deps.store.recordPages(crawl.crawlId, exhausted.map((u) => ({ summary: unprocessed(u, at), depth: u.depth })));
    report.failed += outcomes.filter((o) => o === 'recorded').length;
  }
  if (again.length > 0) {
    // Counted before sending: if this pass dies after the send, the URL has still used up a round, so no URL is
    // requeued forever.
    await deps.reconcileStore.markRequeued(crawl.crawlId, again.map((u) => u.url));
    const messages: PageMessage[] = again.map((u) => ({
      crawlId: crawl.crawlId,
      url: u.url,
      depth: u.depth,
      maxDepth: crawl.options.maxDepth,
      sameOrigin: crawl.options.sameOrigin,
      ...(crawl.options.maxPages ? { maxPages: crawl.options.maxPages } : {}),
    }));
    // What could not be sent now is found again by the next pass.
    const unsent = await deps.queue.send(messages);
    report.requeued += messages.length - unsent.length;
  }
  if (deps.sitemaps) noteSitemaps(report, await reconcileSitemaps(crawl, deps.sitemaps, settings, cutoff));
  if (unfinished.length === 0 && crawl.pending > 0) report.inconsistent.push(crawl.crawlId);
  if (await deps.store.completeIfDone(crawl.crawlId, at)) report.completed++;
}

function noteSitemaps(report: ReconcileReport, sitemaps: { requeued: number; ended: number }): void {
  report.sitemapsRequeued = (report.sitemapsRequeued ?? 0) + sitemaps.requeued;
  report.sitemapsEnded = (report.sitemapsEnded ?? 0) + sitemaps.ended;
}

function unprocessed(url: UnfinishedUrl, at: string) {
  return failedSummary({
    url: url.url,
    fetchedAt: at,
    error: {
      code: UNPROCESSED,
      message: `queued ${url.requeues + 1} times and never processed: its messages were lost or dead-lettered (see the dead-letter queue)`,
    },
  });
}
