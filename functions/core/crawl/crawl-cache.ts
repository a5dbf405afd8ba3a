import type { Crawl } from '../model/crawl.js';
import type { CrawlStore } from '../model/ports.js';

/**
 * The crawls a consumer works for, read at most every `maxAgeMs` per crawl (one read shared by the pages asking at
 * once): the crawl item is the truth for its options (patterns, politeness) and its status (a cancel), and a page
 * must learn of a cancel within seconds without a read per page.
 */
export class CrawlCache {
  private readonly entries = new Map<string, { at: number; crawl: Promise<Crawl | null> }>();

  constructor(
    private readonly store: Pick<CrawlStore, 'getCrawl'>,
    private readonly maxAgeMs = 2_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(crawlId: string): Promise<Crawl | null> {
    const at = this.now();
    const entry = this.entries.get(crawlId);
    if (entry && at - entry.at < this.maxAgeMs) return entry.crawl;
    const crawl = this.store.getCrawl(crawlId);
    this.entries.set(crawlId, { at, crawl });
    // A failed read is not kept: the next page asks again.
    crawl.catch(() => this.entries.get(crawlId)?.crawl === crawl && this.entries.delete(crawlId));
    if (this.entries.size > 1_000) this.evictOlderThan(at - this.maxAgeMs);
    return crawl;
  }

  private evictOlderThan(cutoff: number): void {
    for (const [id, entry] of this.entries) if (entry.at < cutoff) this.entries.delete(id);
  }
}
