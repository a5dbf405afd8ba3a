import { PUBLIC_INTERNET, type NetworkAccess } from '../fetch/address-guard.js';
import type { Analyze } from '../parse/analyze-body.js';
import { summarizeUrl } from '../summarize/summarize-url.js';
import type { FetchLimits } from '../fetch/fetch-limits.js';
import type { PageMessage } from '../model/page-message.js';
import type { RecordOutcome } from '../model/crawl.js';
import type { CrawlCache } from './crawl-cache.js';
import type { CrawlStore, PageSender } from '../model/ports.js';
import { DEFAULT_RETRY_POLICY, RetryLater, retryDelaySeconds, type RetryPolicy } from './retry-policy.js';
import { enqueueFailed, failedSummary, type Summary } from '../model/summary.js';
import { MAX_LINKS_PER_PAGE } from '../model/limits.js';
import { normalizeUrl } from '../model/url.js';

export interface ProcessDeps {
  store: CrawlStore;
  /** The crawl's options and status, at most seconds old; read through the store when not given. */
  crawls?: CrawlCache;
  queue: PageSender;
  limits: FetchLimits;
  retry?: RetryPolicy;
  network?: NetworkAccess;
  /** Where pages are parsed: this thread unless a ParsePool's `analyze` is given. */
  analyze?: Analyze;
  /** Writes one page's outcome: the store's recordPage, or a RecordBatcher's, to share transactions. */
  recordPage?: (crawlId: string, summary: Summary, depth: number) => Promise<RecordOutcome>;
  /** Told of each page's terminal summary as it is recorded (metrics). */
  observe?: (summary: Summary) => void;
  now?: () => Date;
  /**
   * Epoch ms until which this delivery may still be running (the invocation's deadline): children it registers are
   * leased to it until then, so a concurrent delivery of the same parent does not queue them too.
   */
  leaseUntil?: number;
}

/** The lease when the caller gives no deadline: a consumer's default timeout. */
const DEFAULT_LEASE_MS = 60_000;

/**
 * The use case behind one delivery of one SQS message; `attempt` is the delivery's number (1-based).
 *
 * Every URL ends in exactly one terminal state however often its message is delivered:
 * - a redelivered message whose outcome is stored does no fetch and counts nothing again;
 * - links are registered and queued, and the latest summary written, before the page is recorded, and the record
 *   (summary + counter) is one transaction, so a crash at any point is repaired by the redelivery;
 * - a transient failure (timeout, reset, 5xx, 429…) or an unexpected error throws RetryLater, until the last attempt:
 *   there the URL is recorded as failed with its reason, so the crawl completes. Only if even that write fails does
 *   the error escape, and SQS moves the message to the DLQ.
 */
export async function processPage(message: PageMessage, deps: ProcessDeps, attempt = 1): Promise<RecordOutcome> {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const isLast = attempt >= policy.maxAttempts;
  try {
    return await tryPage(message, deps, policy, attempt, isLast);
  } catch (err) {
    const retry =
      err instanceof RetryLater ? err
      : !isLast ? new RetryLater(retryDelaySeconds(policy, attempt), `the page could not be processed: ${describe(err)}`, { cause: err })
      : null;
    if (retry) {
      // The URL is alive, only waiting for its next attempt: the reconciler leaves it alone for a while.
      await deps.store.noteRetry(message.crawlId, message.url, now(deps)).catch(() => undefined);
      throw retry;
    }
    const error = { code: 'INTERNAL_ERROR', message: `the page could not be processed in ${attempt} attempts (last: ${describe(err)})` };
    const summary = failedSummary({ url: message.url, fetchedAt: now(deps), error });
    // Straight to the store, not through a shared batch: this is the one write left between the URL and the DLQ.
    return recordTerminal(message, summary, deps, (crawlId, s, depth) => deps.store.recordPage(crawlId, s, depth));
  }
}

const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);

const now = (deps: ProcessDeps) => (deps.now ?? (() => new Date()))().toISOString();

/**
 * The consumer ran out of time while these deliveries were still in flight. Those on their last attempt end now, as
 * failed with that reason, rather than reach the DLQ unrecorded (a delivery may still finish in the background:
 * whichever records first counts, once); earlier attempts are left to SQS. One write per crawl (its pages share
 * transactions), since little time is left. Per entry, whether its URL is ended.
 */
export async function endUnfinished(entries: readonly { message: PageMessage; attempt: number }[], deps: ProcessDeps): Promise<boolean[]> {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const ended = entries.map(() => false);
  const byCrawl = new Map<string, number[]>();
  entries.forEach(({ message, attempt }, i) => {
    if (attempt >= policy.maxAttempts) byCrawl.set(message.crawlId, [...(byCrawl.get(message.crawlId) ?? []), i]);
  });
  await Promise.all(
    [...byCrawl].map(async ([crawlId, indexes]) => {
      const at = now(deps);
      const pages = indexes.map((i) => {
        const { message, attempt } = entries[i]!;
        const error = { code: 'TIMEOUT', message: `not finished within the consumer's time limit (${attempt} attempts)` };
        return { summary: failedSummary({ url: message.url, fetchedAt: at, error }), depth: message.depth };
      });
      const outcomes = await deps.store.recordPages(crawlId, pages);
      outcomes.forEach((outcome, k) => outcome === 'recorded' && deps.observe?.(pages[k]!.summary));
      for (const i of indexes) ended[i] = true;
      await deps.store.completeIfDone(crawlId, at);
    }),
  );
  return ended;
}

/** Records the URL's terminal summary, reports it, and completes the crawl if that was its last URL. */
async function recordTerminal(message: PageMessage, summary: Summary, deps: ProcessDeps, record: NonNullable<ProcessDeps['recordPage']>): Promise<RecordOutcome> {
  const outcome = await record(message.crawlId, summary, message.depth);
  if (outcome === 'recorded') deps.observe?.(summary);
  await deps.store.completeIfDone(message.crawlId, now(deps));
  return outcome;
}

async function tryPage(message: PageMessage, deps: ProcessDeps, policy: RetryPolicy, attempt: number, isLast: boolean): Promise<RecordOutcome> {
  if (await deps.store.hasPage(message.crawlId, message.url)) {
    await deps.store.completeIfDone(message.crawlId, now(deps));
    return 'duplicate';
  }
  const { summary, outlinks, retry } = await summarizeUrl(message.url, deps.limits, deps.network ?? PUBLIC_INTERNET, deps.analyze);
  if (retry && summary.error) {
    if (!isLast) throw new RetryLater(retryDelaySeconds(policy, attempt, retry.afterMs), `${summary.error.code}: ${summary.error.message}`);
    if (attempt > 1) summary.error = { ...summary.error, message: `${summary.error.message} (${attempt} attempts)` };
  }

  if (summary.ok && message.depth < message.maxDepth) {
    const candidates = linksToFollow(outlinks(), message);
    if (candidates.length > 0) {
      const toQueue = await deps.store.registerLinks(message.crawlId, message.url, candidates, {
        maxPages: message.maxPages,
        depth: message.depth + 1,
        leaseUntil: deps.leaseUntil ?? Date.now() + DEFAULT_LEASE_MS,
      });
      const unsent = await deps.queue.send(toQueue.map((url) => ({ ...message, url, depth: message.depth + 1 })));
      if (unsent.length > 0) {
        // Retrying makes registerLinks hand back the same children to queue again, once this delivery lets go of
        // them. On the last attempt they are counted already, so they must end too: as failed, or the crawl would
        // never complete.
        if (!isLast) {
          await deps.store.releaseLinks(message.crawlId, unsent.map((m) => m.url));
          throw new RetryLater(retryDelaySeconds(policy, attempt), `${unsent.length} discovered URLs could not be queued`);
        }
        const at = now(deps);
        await deps.store.recordFailures(message.crawlId, unsent.map((m) => enqueueFailed(m.url, at)), message.depth + 1);
      }
    }
  }

  await deps.store.putLatest(message.crawlId, summary);
  return recordTerminal(message, summary, deps, deps.recordPage ?? ((crawlId, s, depth) => deps.store.recordPage(crawlId, s, depth)));
}

/** The page's links this crawl follows, each once, at most MAX_LINKS_PER_PAGE of them. */
function linksToFollow(outlinks: readonly string[], message: PageMessage): string[] {
  const origin = new URL(message.url).origin;
  const out = new Set<string>();
  for (const link of outlinks) {
    const check = normalizeUrl(link);
    if (!check.ok) continue;
    if (message.sameOrigin && new URL(check.url).origin !== origin) continue;
    if (check.url !== message.url) out.add(check.url);
    if (out.size === MAX_LINKS_PER_PAGE) break;
  }
  return [...out];
}
