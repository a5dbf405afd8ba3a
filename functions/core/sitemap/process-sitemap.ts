import { FetchError } from '../fetch/http-client.js';
import { isTransientStatus } from '../fetch/transient-failure.js';
import { scopeFor, type Scope } from '../crawl/scope.js';
import { DEFAULT_RETRY_POLICY, RetryLater, retryDelaySeconds, type RetryPolicy } from '../crawl/retry-policy.js';
import type { Crawl } from '../model/crawl.js';
import type { PageMessage } from '../model/page-message.js';
import type { CrawlStore, PageSender } from '../model/ports.js';
import { enqueueFailed } from '../model/summary.js';
import { normalizeUrl } from '../model/url.js';
import { SitemapFormatError, SitemapParser, type SitemapEntry } from './parse-sitemap.js';
import type { SitemapOutcome, SitemapSender, SitemapStore } from './ports.js';
import { MAX_SITEMAP_BYTES, sitemapBytes } from './sitemap-body.js';
import { robotsSitemaps, type RobotsSitemapsLookup, type SitemapFetch } from './sitemap-fetch.js';
import { MAX_SITEMAP_LEVEL, MAX_SITEMAPS_PER_ORIGIN, toMessage, type SitemapMessage, type SitemapTask } from './sitemap-message.js';

export interface SitemapDeps {
  store: Pick<CrawlStore, 'getCrawl' | 'registerLinks' | 'releaseLinks' | 'recordFailures' | 'completeIfDone'>;
  sitemaps: SitemapStore;
  /** The crawl's options and status (a CrawlCache's get, or the store's getCrawl). */
  crawl?: (crawlId: string) => Promise<Crawl | null>;
  queue: PageSender;
  /** Where child sitemaps are queued: the same queue. */
  sitemapQueue: SitemapSender;
  /** Where the work goes to wait for its host's turn: the turn queue (the consumer's), else sitemapQueue. */
  turnQueue?: SitemapSender;
  /**
   * Releases the reservations queued on a URL's host after a crawl's cancel (HostPacer.releaseReservations): work of a
   * cancelled crawl back for the slot it reserved calls it, as a page does, so other crawls of the host do not queue
   * behind the cancelled crawl's slots.
   */
  releaseReservations?: (url: string, cancelledAt: number) => Promise<void>;
  fetch: SitemapFetch;
  /** An origin's robots.txt Sitemap lines: the politeness layer's cache where there is one, else a fetch through `fetch`. */
  robotsSitemaps?: RobotsSitemapsLookup;
  retry?: RetryPolicy;
  /** Epoch ms until which this delivery may run: the fetch's deadline and the pages' lease. */
  leaseUntil?: number;
  now?: () => Date;
}

/** Entries registered in one go: one registerLinks call (a few transactions) per this many URLs read. */
const FLUSH_EVERY = 500;
/** Time kept back from the delivery's deadline for registering what was read and ending the task. */
const DEADLINE_MARGIN_MS = 10_000;
const DEFAULT_RUN_MS = 60_000;

/** A page of the crawl's sitemap work did not end in time or had nothing to do: what it did instead. */
export type SitemapResult = 'ended' | 'duplicate' | 'deferred';

/**
 * The use case behind one delivery of a sitemap message (`attempt` is 1-based). Like a page, the task ends exactly
 * once however often its message comes: what it counts (page URLs through registerLinks, child sitemaps through
 * addSitemaps) is counted before it is queued and before the task ends, so a redelivery finds it counted and queues
 * only what its own earlier try left unqueued. A transient failure retries until the last attempt; there, and on any
 * permanent failure (a 404, a refused address, not a sitemap), the task ends with its reason, so the crawl completes.
 */
export async function processSitemap(message: SitemapMessage, deps: SitemapDeps, attempt = 1): Promise<SitemapResult> {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const isLast = attempt >= policy.maxAttempts;
  const task: SitemapTask = message;
  try {
    return await trySitemap(message, deps, policy, attempt, isLast);
  } catch (err) {
    const retry = err instanceof RetryLater ? err : !isLast ? new RetryLater(retryDelaySeconds(policy, attempt), `the sitemap could not be read: ${describe(err)}`, { cause: err }) : null;
    if (retry && !isLast) {
      await deps.sitemaps.noteSitemapRetry(message.crawlId, task, now(deps)).catch(() => undefined);
      throw retry;
    }
    const error =
      err instanceof RetryLater ? { code: 'SITEMAP_UNAVAILABLE', message: err.reason }
      : err instanceof FetchError ? { code: err.code, message: err.message }
      : { code: 'INTERNAL_ERROR', message: describe(err) };
    return end(message, deps, { pages: 0, sitemaps: 0, error: { code: error.code, message: `${error.message} (${attempt} attempts)` } });
  }
}

const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);
const now = (deps: SitemapDeps) => (deps.now ?? (() => new Date()))().toISOString();

async function end(message: SitemapMessage, deps: SitemapDeps, outcome: SitemapOutcome): Promise<SitemapResult> {
  const ended = await deps.sitemaps.endSitemap(message.crawlId, message, outcome);
  await deps.store.completeIfDone(message.crawlId, now(deps));
  return ended ? 'ended' : 'duplicate';
}

async function trySitemap(message: SitemapMessage, deps: SitemapDeps, policy: RetryPolicy, attempt: number, isLast: boolean): Promise<SitemapResult> {
  if (await deps.sitemaps.sitemapDone(message.crawlId, message)) {
    await deps.store.completeIfDone(message.crawlId, now(deps));
    return 'duplicate';
  }
  const crawl = await (deps.crawl ?? ((id) => deps.store.getCrawl(id)))(message.crawlId);
  // Gone (expired) or no longer running (cancelled): nothing more is read for it.
  if (!crawl) return 'duplicate';
  if (crawl.status !== 'running') {
    const cancelledAt = Date.parse(crawl.cancelledAt ?? '');
    if (message.reservation !== undefined && Number.isFinite(cancelledAt)) await deps.releaseReservations?.(message.url, cancelledAt).catch(() => undefined);
    return end(message, deps, { pages: 0, sitemaps: 0, error: { code: 'CANCELLED', message: `the crawl is ${crawl.status}` } });
  }

  const leaseUntil = deps.leaseUntil ?? Date.now() + DEFAULT_RUN_MS;
  const timeoutMs = Math.max(1_000, leaseUntil - Date.now() - DEADLINE_MARGIN_MS);
  if (message.level === 0) return findSitemaps(message, crawl, deps, policy, attempt, isLast, timeoutMs);

  const res = await deps.fetch(message.url, crawl, timeoutMs, message.reservation).catch((err: unknown) => {
    if (err instanceof FetchError && !err.transient) return { kind: 'refused' as const, code: err.code, message: err.message };
    throw err;
  });
  if (res.kind === 'wait') return comeBack(message, res, attempt, deps);
  if (res.kind === 'refused') return end(message, deps, { pages: 0, sitemaps: 0, error: { code: res.code, message: res.message } });
  if (res.status < 200 || res.status >= 300) {
    res.close();
    const error = { code: `HTTP_${res.status}`, message: `the sitemap answered ${res.status}` };
    if (isTransientStatus(res.status) && !isLast) throw new RetryLater(retryDelaySeconds(policy, attempt, res.retryAfterMs), `${error.code}: ${error.message}`);
    return end(message, deps, { pages: 0, sitemaps: 0, error });
  }

  // Entries are discovered URLs: within the crawl's include/exclude patterns, as links are.
  const scope = await scopeFor(crawl.crawlId, async () => crawl.options);
  const reader = new EntryReader(message, crawl, scope, deps, leaseUntil, isLast);
  const body = { truncated: false };
  let error: SitemapOutcome['error'];
  try {
    const parser = new SitemapParser((entry) => reader.add(entry));
    for await (const chunk of sitemapBytes(res.body, MAX_SITEMAP_BYTES, body)) {
      parser.write(chunk);
      if (reader.due) await reader.flush();
      if (reader.full) break;
    }
    if (!reader.full) parser.end();
    if (parser.format === 'unknown') error = { code: 'NOT_A_SITEMAP', message: 'neither a urlset, a sitemap index nor a text sitemap' };
  } catch (err) {
    if (!(err instanceof SitemapFormatError)) throw err;
    error = { code: 'NOT_A_SITEMAP', message: err.message };
  } finally {
    res.close();
  }
  if (body.truncated) error = { code: 'TOO_LARGE', message: `only the first ${MAX_SITEMAP_BYTES} bytes were read (sitemaps.org's limit)` };
  await reader.flush();
  const sitemaps = await reader.queueSitemaps();
  return end(message, deps, { pages: reader.pages, sitemaps, ...(error ? { error } : {}) });
}

/** Level 0: the origin's robots.txt `Sitemap:` lines, else /sitemap.xml, become its level-1 tasks. */
async function findSitemaps(message: SitemapMessage, crawl: Crawl, deps: SitemapDeps, policy: RetryPolicy, attempt: number, isLast: boolean, timeoutMs: number): Promise<SitemapResult> {
  const lookup = deps.robotsSitemaps ?? ((origin, c, ms, reservation) => robotsSitemaps(origin, c, deps.fetch, ms, reservation));
  const found = await lookup(message.origin, crawl, timeoutMs, message.reservation);
  if (found.kind === 'wait') return comeBack(message, found, attempt, deps);
  let urls: readonly string[];
  if (found.kind === 'sitemaps') urls = found.urls;
  // robots.txt out of reach: while it is obeyed, nothing of the origin may be fetched yet (RFC 9309), so wait, and in
  // the end give up; when it is ignored, its Sitemap lines are simply not known.
  else if (crawl.options.robotsTxt === 'ignore') urls = [];
  else if (!isLast) throw new RetryLater(retryDelaySeconds(policy, attempt), `ROBOTS_UNREACHABLE: ${found.why}`);
  else return end(message, deps, { pages: 0, sitemaps: 0, error: { code: 'ROBOTS_UNREACHABLE', message: found.why } });

  const tasks = (urls.length > 0 ? urls : [`${message.origin}/sitemap.xml`])
    .map((url) => normalizeUrl(url))
    .flatMap((check) => (check.ok ? [{ origin: message.origin, url: check.url, level: 1 }] : []))
    .slice(0, MAX_SITEMAPS_PER_ORIGIN);
  const sitemaps = await addAndQueue(message, tasks, deps, isLast);
  return end(message, deps, { pages: 0, sitemaps });
}

/**
 * The host's turn is later: the work comes back then as a new message (SQS delays a message at most 900 s) carrying
 * its attempts and its reservation, so waiting neither holds the consumer nor uses up an attempt.
 */
async function comeBack(message: SitemapMessage, wait: { delayMs: number; reservation?: number }, attempt: number, deps: SitemapDeps): Promise<SitemapResult> {
  const delaySeconds = Math.min(900, Math.max(0, Math.ceil(wait.delayMs / 1000)));
  const { reservation: _old, ...rest } = message;
  const again: SitemapMessage = { ...rest, attempts: attempt - 1, ...(wait.reservation !== undefined ? { reservation: wait.reservation } : {}) };
  // Alive, only waiting, until it comes back: the reconciler leaves it alone until then (a wait may be longer than
  // reconcile.afterSeconds, as a page's may).
  const backAt = new Date((deps.now ?? (() => new Date()))().getTime() + delaySeconds * 1000).toISOString();
  await deps.sitemaps.noteSitemapRetry(message.crawlId, message, backAt).catch(() => undefined);
  const unsent = await (deps.turnQueue ?? deps.sitemapQueue).send([again], { delaySeconds });
  if (unsent.length > 0) throw new RetryLater(delaySeconds, 'waiting for the host’s turn (the message could not be sent again)');
  return 'deferred';
}

/** Counts child tasks and queues those this delivery must; on the last attempt, ends what could not be queued. */
async function addAndQueue(parent: SitemapMessage, children: SitemapTask[], deps: SitemapDeps, isLast: boolean): Promise<number> {
  if (children.length === 0) return 0;
  const toQueue = await deps.sitemaps.addSitemaps(parent.crawlId, parent, children);
  const unsent = await deps.sitemapQueue.send(toQueue.map((task) => toMessage(parent.crawlId, task)));
  if (unsent.length > 0) {
    // Not ended: the next delivery of the parent gets them back from addSitemaps and queues them.
    if (!isLast) throw new RetryLater(10, `${unsent.length} sitemaps could not be queued`);
    const error = { code: 'ENQUEUE_FAILED', message: 'the sitemap could not be queued' };
    for (const m of unsent) await deps.sitemaps.endSitemap(parent.crawlId, m, { pages: 0, sitemaps: 0, error });
  }
  return toQueue.length;
}

/**
 * A sitemap's entries as they are read: page URLs resolved, normalized, kept in scope and registered in groups as the
 * crawl's links are (counted once, within maxPages, leased), then queued at depth 0; an index's entries kept (at most
 * MAX_SITEMAPS_PER_ORIGIN) for addSitemaps at the end. Reading stops once the crawl is full.
 */
class EntryReader {
  pages = 0;
  full = false;
  private batch = new Set<string>();
  private readonly children = new Map<string, SitemapTask>();
  private readonly origin: string;
  private readonly maxDepth: number;

  constructor(
    private readonly message: SitemapMessage,
    private readonly crawl: Crawl,
    private readonly scope: Scope,
    private readonly deps: SitemapDeps,
    private readonly leaseUntil: number,
    private readonly isLast: boolean,
  ) {
    this.origin = message.origin;
    // sitemap "only": the crawl is the sitemaps' URLs, and no links are followed from them.
    this.maxDepth = crawl.options.sitemap === 'only' ? 0 : crawl.options.maxDepth;
  }

  get due(): boolean {
    return this.batch.size >= FLUSH_EVERY;
  }

  add(entry: SitemapEntry): void {
    // sitemaps.org: every entry is a full URL (a relative one, or a text sitemap's stray line, is not an entry).
    const check = normalizeUrl(entry.loc);
    if (!check.ok) return;
    if (entry.kind === 'sitemap') {
      if (this.message.level < MAX_SITEMAP_LEVEL && this.children.size < MAX_SITEMAPS_PER_ORIGIN) {
        this.children.set(check.url, { origin: this.origin, url: check.url, level: this.message.level + 1 });
      }
      return;
    }
    if (this.full) return;
    if (this.crawl.options.sameOrigin && new URL(check.url).origin !== this.origin) return;
    if (!this.scope.allows(check.url)) return;
    this.batch.add(check.url);
  }

  async flush(): Promise<void> {
    if (this.batch.size === 0 || this.full) return;
    const candidates = [...this.batch];
    this.batch = new Set();
    const { crawlId } = this.message;
    const maxPages = this.crawl.options.maxPages;
    const toQueue = await this.deps.store.registerLinks(crawlId, this.message.url, candidates, { maxPages, depth: 0, leaseUntil: this.leaseUntil });
    this.pages += toQueue.length;
    const messages: PageMessage[] = toQueue.map((url) => ({ crawlId, url, depth: 0, maxDepth: this.maxDepth, sameOrigin: this.crawl.options.sameOrigin, ...(maxPages ? { maxPages } : {}) }));
    const unsent = await this.deps.queue.send(messages);
    if (unsent.length > 0) {
      // As a page does with its links: give them back for the next delivery to queue, or on the last one end them.
      if (!this.isLast) {
        await this.deps.store.releaseLinks(crawlId, unsent.map((m) => m.url));
        throw new RetryLater(10, `${unsent.length} sitemap URLs could not be queued`);
      }
      await this.deps.store.recordFailures(crawlId, unsent.map((m) => enqueueFailed(m.url, now(this.deps))), 0);
    }
    // Fewer counted than offered: others had them, or the crawl is at maxPages. Only a read tells which.
    if (maxPages !== undefined && toQueue.length < candidates.length) {
      const current = await this.deps.store.getCrawl(crawlId);
      if (!current || current.total >= maxPages || current.status !== 'running') this.full = true;
    }
  }

  /** Counts and queues the index's sitemaps (none for a urlset); how many this delivery queued. */
  queueSitemaps(): Promise<number> {
    return addAndQueue(this.message, [...this.children.values()], this.deps, this.isLast);
  }
}
