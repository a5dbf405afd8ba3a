import type { Crawl, CrawlOptions, RecordOutcome, RunningCrawl, UnfinishedUrl } from './crawl.js';
import type { PageMessage } from './page-message.js';
import type { Change, Summary } from './summary.js';
import type { ChangeBase, LatestSummary } from '../crawl/change.js';
import type { SitemapTask } from '../sitemap/sitemap-message.js';

// The core's ports: what it needs from the outside world. functions/adapters/ implements them on DynamoDB and SQS.

export interface PageList {
  items: Summary[];
  cursor: string | null;
}

/** Where crawls and summaries live. The DynamoDB adapter implements it; the core only sees this. */
export interface CrawlStore {
  /**
   * Records a new crawl with `total` = seeds, each seed durably counted before the crawl exists (and before any
   * message is sent), and so is its first sitemap work, if any (one task per seed origin: the crawl does not complete
   * while sitemap work is pending). 'exists' when a crawl with this id was recorded before (a retried scheduled submit).
   */
  createCrawl(crawl: Crawl, seeds: readonly string[], sitemaps?: readonly SitemapTask[]): Promise<'created' | 'exists'>;
  /** Whether this URL's outcome is already recorded in the crawl (a redelivered message). */
  hasPage(crawlId: string, url: string): Promise<boolean>;
  /** Stores a URL's summary and counts it as succeeded or failed, atomically and exactly once. */
  recordPage(crawlId: string, summary: Summary, depth: number): Promise<RecordOutcome>;
  /** Records many URLs' outcomes, each exactly once, in few writes; per entry, whether this call recorded it. */
  recordPages(crawlId: string, entries: readonly { summary: Summary; depth: number }[]): Promise<(RecordOutcome)[]>;
  /** Records many failed URLs (e.g. ones that could not be queued), each exactly once, in few writes. */
  recordFailures(crawlId: string, summaries: readonly Summary[], depth: number): Promise<void>;
  /**
   * Marks the crawl completed when every counted URL has an outcome (a cancelled crawl keeps its status and gets its
   * completedAt). True when this call completed it.
   */
  completeIfDone(crawlId: string, completedAt: string): Promise<boolean>;
  /**
   * Cancels a running crawl at `cancelledAt` (one conditional write: running → cancelled; from then on no link is
   * counted for it). The crawl as it stands after: one cancelled earlier keeps its first cancelledAt, one that had
   * completed is returned unchanged; null when there is no such crawl.
   */
  cancelCrawl(crawlId: string, cancelledAt: string): Promise<Crawl | null>;
  /**
   * Adds newly discovered URLs to the crawl (each counted once across all consumers, `total` kept ≤ maxPages) and
   * returns those this delivery must enqueue: the ones it added now, and the ones this parent added on an earlier,
   * interrupted try whose lease has run out. Until `leaseUntil` no other delivery of the parent gets them.
   */
  registerLinks(crawlId: string, parentUrl: string, urls: readonly string[], options: { maxPages?: number | undefined; depth: number; leaseUntil: number }): Promise<string[]>;
  /** Notes that a counted URL will be tried again (its message is alive), so the reconciler does not requeue it yet. */
  noteRetry(crawlId: string, url: string, at: string): Promise<void>;
  /** Gives up the lease on links this delivery could not queue, so the next delivery of the parent queues them. */
  releaseLinks(crawlId: string, urls: readonly string[]): Promise<void>;
  /**
   * Keeps the newest summary of a URL across crawls, with the base it was compared with (crawl/change.ts), so that a
   * redelivery of the same page compares with the same earlier summary.
   */
  putLatest(crawlId: string, summary: Summary, base: ChangeBase | null): Promise<void>;
  /** The URL's latest summary, the crawl that recorded it, and the base it was compared with; null if never crawled. */
  latestFor(url: string): Promise<LatestSummary | null>;
  getCrawl(crawlId: string): Promise<Crawl | null>;
  /** A crawl's pages in key order, one page of them per call; with `change`, only the summaries with that change. */
  listPages(crawlId: string, limit: number, cursor?: string, change?: Change): Promise<PageList>;
  getLatest(url: string): Promise<Summary | null>;
  /** Crawls newest first, `limit` at most, from `cursor`; only a schedule's runs when `schedule` is given. */
  listCrawls(query: { limit: number; cursor?: string | undefined; schedule?: string | undefined }): Promise<{ items: Crawl[]; cursor: string | null }>;
}

/** What the reconciler reads and marks; the DynamoDB adapter implements it beside CrawlStore. */
export interface ReconcileStore {
  runningCrawls(): Promise<RunningCrawl[]>;
  /** The crawl's counted URLs (seeds and links) that have no page record. */
  unfinishedUrls(crawlId: string): Promise<UnfinishedUrl[]>;
  /**
   * Takes a stalled crawl for this pass: sets its progress time to `at` if it is still `seenProgressAt` (nothing was
   * recorded meanwhile, and no other pass took it). False when it was not taken.
   */
  claimCrawl(crawlId: string, seenProgressAt: string, at: string): Promise<boolean>;
  /** Counts one more requeue of each URL, before the messages are sent. */
  markRequeued(crawlId: string, urls: readonly string[]): Promise<void>;
}

/** Puts page messages on the page queue. */
export interface PageSender {
  /**
   * Sends the messages, each delivered no sooner than `delaySeconds` from now (0 to 900; a URL waiting for its host's
   * turn); returns those that could not be sent after retries. Never throws.
   */
  send(messages: readonly PageMessage[], options?: { delaySeconds?: number }): Promise<PageMessage[]>;
}
