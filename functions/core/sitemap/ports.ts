import type { SitemapMessage, SitemapTask } from './sitemap-message.js';

/** What a piece of sitemap work came to, kept on its record (for reading the table when a crawl found fewer URLs than hoped). */
export interface SitemapOutcome {
  /** Page URLs this sitemap counted into the crawl (those other sitemaps or seeds counted first are not). */
  pages: number;
  /** Sitemaps it added (robots.txt's, or an index's entries). */
  sitemaps: number;
  /** Why it read nothing, or stopped early (a 404, a body cut at the cap, the last attempt failing…). */
  error?: { code: string; message: string };
}

/**
 * Sitemap work, counted on the crawl the way URLs are: the crawl does not complete while any is pending. Each task is
 * counted once (a record put only if absent, in the transaction that adds it to the crawl's `sitemapWork`) and ended
 * once (its record's state moved from pending, in the transaction that takes it off), so redeliveries count nothing
 * twice. The DynamoDB adapter implements it (adapters/dynamodb/sitemap-work.ts).
 */
export interface SitemapStore {
  /**
   * Counts child tasks of `parent`, each once, at most MAX_SITEMAPS_PER_ORIGIN for its origin in the crawl; returns
   * those this delivery must queue: the ones added now, and those this parent added on an earlier try that are still
   * pending (that try may have died before sending them).
   */
  addSitemaps(crawlId: string, parent: SitemapTask, children: readonly SitemapTask[]): Promise<SitemapTask[]>;
  /** Whether the task has ended (a redelivered message). */
  sitemapDone(crawlId: string, task: SitemapTask): Promise<boolean>;
  /** Ends the task, once: true when this call ended it. */
  endSitemap(crawlId: string, task: SitemapTask, outcome: SitemapOutcome): Promise<boolean>;
  /** Notes that the task will be tried again (its message is alive), so the reconciler does not requeue it yet. */
  noteSitemapRetry(crawlId: string, task: SitemapTask, at: string): Promise<void>;
}

/** A task the reconciler found pending. */
export interface UnfinishedSitemap extends SitemapTask {
  requeues: number;
  retriedAt?: string;
}

/** What the reconciler reads and marks of sitemap work. */
export interface SitemapReconcileStore {
  unfinishedSitemaps(crawlId: string): Promise<UnfinishedSitemap[]>;
  markSitemapsRequeued(crawlId: string, tasks: readonly SitemapTask[]): Promise<void>;
}

/** Puts sitemap messages on the page queue (the SQS adapter's send). */
export interface SitemapSender {
  /** Sends the messages (no sooner than `delaySeconds` from now); returns those that could not be sent after retries. Never throws. */
  send(messages: readonly SitemapMessage[], options?: { delaySeconds?: number }): Promise<SitemapMessage[]>;
}
