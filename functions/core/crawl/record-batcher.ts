import type { RecordOutcome } from '../model/crawl.js';
import { URLS_PER_COUNTED_WRITE } from '../model/limits.js';
import type { CrawlStore } from '../model/ports.js';
import type { Summary } from '../model/summary.js';

interface Waiting {
  summary: Summary;
  depth: number;
  resolve: (outcome: RecordOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers the pages of one crawl that finish within `windowMs` of each other into one recordPages call, so an
 * invocation working on 16 pages writes the crawl's hot counter item a few times instead of 16. Each caller still
 * gets its own page's outcome (or the call's error) before it goes on, so the exactly-once and crash-safety
 * reasoning of processPage is unchanged: a page counts when its transaction commits, all or nothing.
 */
export class RecordBatcher {
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly store: Pick<CrawlStore, 'recordPages'>,
    private readonly windowMs = 20,
  ) {}

  readonly recordPage = (crawlId: string, summary: Summary, depth: number): Promise<RecordOutcome> =>
    new Promise<RecordOutcome>((resolve, reject) => {
      const list = this.waiting.get(crawlId) ?? [];
      list.push({ summary, depth, resolve, reject });
      this.waiting.set(crawlId, list);
      if (list.length >= URLS_PER_COUNTED_WRITE) this.flush(crawlId);
      else if (!this.timers.has(crawlId)) this.timers.set(crawlId, setTimeout(() => this.flush(crawlId), this.windowMs));
    });

  private flush(crawlId: string): void {
    clearTimeout(this.timers.get(crawlId));
    this.timers.delete(crawlId);
    const list = this.waiting.get(crawlId) ?? [];
    this.waiting.delete(crawlId);
    if (list.length === 0) return;
    this.store.recordPages(crawlId, list).then(
      (outcomes) => list.forEach((w, i) => w.resolve(outcomes[i]!)),
      (err: unknown) => list.forEach((w) => w.reject(err)),
    );
  }
}
