// The DynamoDB adapter's front door: DynamoCrawlStore implements the core's CrawlStore by delegating each method to
// the module that holds its invariant. It adds no logic of its own:
//   keys.ts             every item's key        cursor.ts        the page-list cursor
//   requests.ts         DynamoDB calls retried until done; a failed condition is an answer
//   record-once.ts      a URL's outcome recorded exactly once, with the counters, in one transaction
//   count-links.ts      discovered links counted once, within maxPages; leases on who queues them
//   crawl-lifecycle.ts  a crawl created once after its seeds are counted, cancelled once, completed once when nothing is pending
//   summaries.ts        reads of pages and of a URL's newest summary
//   reconcile.ts        the reconciler's reads and marks (ReconcileStore)
//   sitemap-work.ts     a crawl's sitemap work counted once and ended once; no completion while any is pending
// Beside it, politeness's ports (core/polite/ports.ts), built by from-settings.ts:
//   host-pace.ts        requests to a host start in commit order, at least the interval apart (HostPacer)
//   robots-cache.ts     an origin's robots.txt fetched by one consumer at a time, shared for up to 24 h (RobotsStore)
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Crawl, RecordOutcome } from '../../core/model/crawl.js';
import type { CrawlStore, PageList } from '../../core/model/ports.js';
import type { Change, Summary } from '../../core/model/summary.js';
import type { SitemapTask } from '../../core/sitemap/sitemap-message.js';
import { registerLinks, releaseLinks, noteRetry, type RegisterLinksOptions } from './count-links.js';
import { cancelCrawl, completeIfDone, createCrawl, getCrawl } from './crawl-lifecycle.js';
import { recordPages, type Outcome } from './record-once.js';
import { latestKey, pageKey } from './keys.js';
import { PointReads } from './point-reads.js';
import { createDocumentClient, type StoreTable } from './requests.js';
import { DynamoSitemapStore } from './sitemap-work.js';
import { getLatest, latestOf, listPages, putLatest } from './summaries.js';
import { listCrawls, type CrawlListing } from './crawl-listing.js';
import type { ChangeBase, LatestSummary } from '../../core/crawl/change.js';

export { createDocumentClient };
export { DynamoReconcileStore } from './reconcile.js';
export { DynamoSitemapStore } from './sitemap-work.js';
export type { RegisterLinksOptions } from './count-links.js';

export interface DynamoStoreOptions {
  tableName: string;
  retentionDays: number;
  client?: DynamoDBDocumentClient;
}

export class DynamoCrawlStore implements CrawlStore {
  private readonly t: StoreTable;
  /** hasPage and latestFor, which every page begins with: the reads of pages starting together share one request. */
  private readonly reads: PointReads;

  constructor(options: DynamoStoreOptions) {
    const retentionSeconds = options.retentionDays * 24 * 3600;
    this.t = {
      db: options.client ?? createDocumentClient(),
      name: options.tableName,
      expiresAt: () => Math.floor(Date.now() / 1000) + retentionSeconds,
    };
    this.reads = new PointReads(this.t);
  }

  createCrawl(crawl: Crawl, seeds: readonly string[], sitemaps?: readonly SitemapTask[]): Promise<'created' | 'exists'> {
    return createCrawl(this.t, crawl, seeds, sitemaps);
  }

  completeIfDone(crawlId: string, completedAt: string): Promise<boolean> {
    return completeIfDone(this.t, crawlId, completedAt);
  }

  cancelCrawl(crawlId: string, cancelledAt: string): Promise<Crawl | null> {
    return cancelCrawl(this.t, crawlId, cancelledAt);
  }

  getCrawl(crawlId: string): Promise<Crawl | null> {
    return getCrawl(this.t, crawlId);
  }

  async hasPage(crawlId: string, url: string): Promise<boolean> {
    return (await this.reads.get(pageKey(crawlId, url))) !== undefined;
  }

  async recordPage(crawlId: string, summary: Summary, depth: number): Promise<RecordOutcome> {
    return (await recordPages(this.t, crawlId, [{ summary, depth }]))[0]!;
  }

  recordPages(crawlId: string, entries: readonly Outcome[]): Promise<RecordOutcome[]> {
    return recordPages(this.t, crawlId, entries);
  }

  async recordFailures(crawlId: string, summaries: readonly Summary[], depth: number): Promise<void> {
    await recordPages(this.t, crawlId, summaries.map((summary) => ({ summary, depth })));
  }

  registerLinks(crawlId: string, parentUrl: string, urls: readonly string[], options: RegisterLinksOptions): Promise<string[]> {
    return registerLinks(this.t, crawlId, parentUrl, urls, options);
  }

  releaseLinks(crawlId: string, urls: readonly string[]): Promise<void> {
    return releaseLinks(this.t, crawlId, urls);
  }

  noteRetry(crawlId: string, url: string, at: string): Promise<void> {
    return noteRetry(this.t, crawlId, url, at);
  }

  putLatest(crawlId: string, summary: Summary, base: ChangeBase | null): Promise<void> {
    return putLatest(this.t, crawlId, summary, base);
  }

  async latestFor(url: string): Promise<LatestSummary | null> {
    return latestOf(await this.reads.get(latestKey(url)));
  }

  listPages(crawlId: string, limit: number, cursor?: string, change?: Change): Promise<PageList> {
    return listPages(this.t, crawlId, limit, cursor, change);
  }

  getLatest(url: string): Promise<Summary | null> {
    return getLatest(this.t, url);
  }

  listCrawls(query: { limit: number; cursor?: string | undefined; schedule?: string | undefined }): Promise<CrawlListing> {
    return listCrawls(this.t, query);
  }

  /** The same table's sitemap work (sitemap-work.ts): the sitemap use case's store and the reconciler's view of it. */
  sitemapStore(): DynamoSitemapStore {
    return new DynamoSitemapStore(this.t);
  }
}
