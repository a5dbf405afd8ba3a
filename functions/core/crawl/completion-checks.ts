import type { CrawlStore } from '../model/ports.js';

/**
 * The store's completeIfDone, coalesced per crawl within one container. Every page ends with that check, and the pages
 * of one crawl finish together (their records share transactions): one read can answer for every page whose record
 * was written before it began. A check begins once the event loop has run what is ready (setImmediate), so the pages
 * whose shared transaction has just committed all call before it and share it. A call made while a check of its crawl
 * is running waits for one more check, begun after that one ends and shared by every call made meanwhile, so each
 * caller's own write is seen by a check that began after it. What a caller learns is whether that check completed
 * the crawl.
 */
export class CompletionChecks {
  private readonly running = new Map<string, Check>();

  constructor(private readonly store: Pick<CrawlStore, 'completeIfDone'>) {}

  readonly completeIfDone = (crawlId: string, completedAt: string): Promise<boolean> => {
    const entry = this.running.get(crawlId);
    if (entry === undefined) return this.start(crawlId, completedAt);
    if (!entry.begun) return entry.current;
    entry.next ??= entry.current.then(settled, settled).then(() => this.start(crawlId, completedAt));
    return entry.next;
  };

  private start(crawlId: string, completedAt: string): Promise<boolean> {
    const current = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      entry.begun = true;
      return this.store.completeIfDone(crawlId, completedAt);
    });
    const entry: Check = { begun: false, current };
    this.running.set(crawlId, entry);
    // Forgotten once it ends, unless calls are waiting for the next check (which then takes its place).
    const forget = () => {
      if (this.running.get(crawlId) === entry && entry.next === undefined) this.running.delete(crawlId);
    };
    current.then(forget, forget);
    return current;
  }
}

/** A crawl's check running, and the one the calls made meanwhile wait for. */
interface Check {
  /** Whether the check has begun: until then a call joins it. */
  begun: boolean;
  current: Promise<boolean>;
  next?: Promise<boolean>;
}

const settled = () => undefined;
