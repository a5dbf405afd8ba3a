import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import * as z from 'zod/mini';
import { crawlRequestSchema } from '../model/crawl-request.js';
import { MAX_URLS_PER_REQUEST } from '../model/limits.js';
import { invalid, tooLarge, unavailable } from '../model/errors.js';
import type { Crawl, CrawlSource } from '../model/crawl.js';
import type { PageMessage } from '../model/page-message.js';
import type { CrawlStore, PageSender } from '../model/ports.js';
import type { SitemapSender } from '../sitemap/ports.js';
import { originTasks, toMessage } from '../sitemap/sitemap-message.js';
import { enqueueFailed } from '../model/summary.js';
import { partitionUrls } from '../model/url.js';

export interface SubmitResult {
  crawlId: string;
  accepted: number;
  rejected: { url: string; reason: string }[];
  /** URLs that could not be queued even after retries; they are recorded as failed so the crawl still completes. */
  unqueued: number;
  /** True when this crawl id was recorded already (a retried scheduled submit): nothing was queued again. */
  duplicate?: boolean;
  /** True when the run was recorded as skipped (SubmitOptions.skippedFor): nothing was queued. */
  skipped?: boolean;
}

/**
 * A schedule's run: started as any crawl, unless the schedule's previous run has not ended yet (no completedAt), in
 * which case it is recorded as skipped. The previous run is the schedule's newest crawl other than this one (a retried
 * event finds its own first try's crawl newest, and carries on with it), or, when that one was skipped, the run it was
 * skipped for (so a long run holds off every firing until it ends, not every other one).
 */
export async function startScheduledRun(body: unknown, schedule: string, deps: SubmitDeps, options: SubmitOptions = {}): Promise<SubmitResult> {
  const [newest] = (await deps.store.listCrawls({ limit: 2, schedule })).items.filter((c) => c.crawlId !== options.crawlId);
  // A skipped run completed at once: the run it was skipped for is the one that may still be running.
  const previous = newest?.skipped ? await deps.store.getCrawl(newest.skipped.previousCrawlId) : newest;
  const running = previous != null && previous.completedAt === undefined;
  return submitCrawl(body, { kind: 'schedule', name: schedule }, deps, running ? { ...options, skippedFor: previous.crawlId } : options);
}

export interface SubmitDeps {
  store: CrawlStore;
  queue: PageSender;
  /** Where sitemap work is queued (the same queue); without it, the reconciler queues it once the crawl stalls. */
  sitemapQueue?: SitemapSender;
  /** The deployment's defaults for what a request leaves out (functions/settings/submit.ts); else the core's. */
  policy?: SubmitPolicy;
  now?: () => Date;
}

export interface SubmitPolicy {
  /** Default and upper bound of maxPages (limits.maxPagesPerCrawl). */
  maxPagesPerCrawl: number;
  /** politeness.hostDelayMs. */
  hostDelayMs: number;
}

export const DEFAULT_SUBMIT_POLICY: SubmitPolicy = { maxPagesPerCrawl: 10_000, hostDelayMs: 1_000 };

export interface SubmitOptions {
  /**
   * The crawl's id when the caller derives it (a schedule, from its event's id: Lambda retries an asynchronous
   * invocation that failed, and each retry must find the crawl its first try recorded instead of starting another).
   */
  crawlId?: string;
  /**
   * A schedule's run that is not started because its previous run (this id) is still running: recorded, with no URLs,
   * as a completed crawl that says so (`skipped`), so the schedule's listing shows every time it fired.
   */
  skippedFor?: string;
}

/** The use case behind POST /crawls and every schedule: validate, record the crawl, queue one message per URL. */
export async function submitCrawl(body: unknown, source: CrawlSource, deps: SubmitDeps, options: SubmitOptions = {}): Promise<SubmitResult> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('INVALID_REQUEST', 'the body must be a JSON object like {"urls": ["https://example.com/"]}');
  }
  const urls = (body as { urls?: unknown }).urls;
  if (Array.isArray(urls) && urls.length > MAX_URLS_PER_REQUEST) {
    throw tooLarge('TOO_MANY_URLS', `one request holds at most ${MAX_URLS_PER_REQUEST} URLs; this one has ${urls.length}`);
  }
  const parsed = crawlRequestSchema.safeParse(body);
  if (!parsed.success) {
    // A webhook of the wrong shape gets the webhook's own code, as a webhook URL that is not http(s) does.
    const webhookOnly = parsed.error.issues.every((issue) => issue.path[0] === 'webhook');
    throw invalid(webhookOnly ? 'INVALID_WEBHOOK' : 'INVALID_REQUEST', describeIssues(parsed.error));
  }
  const request = parsed.data;

  const defaults = deps.policy ?? DEFAULT_SUBMIT_POLICY;
  const maxPages = request.maxPages ?? defaults.maxPagesPerCrawl;
  if (maxPages > defaults.maxPagesPerCrawl) {
    throw invalid('INVALID_REQUEST', `maxPages: at most ${defaults.maxPagesPerCrawl} in this deployment (crawler.limits.maxPagesPerCrawl)`);
  }

  const webhook = request.webhook;
  if (webhook && !isAbsoluteHttpUrl(webhook.url)) {
    throw invalid('INVALID_WEBHOOK', 'webhook.url must be an absolute http(s) URL');
  }

  const { accepted, rejected } = partitionUrls(request.urls);
  if (accepted.length === 0) {
    throw invalid('NO_VALID_URLS', 'none of the URLs can be crawled', { rejected });
  }

  const now = deps.now ?? (() => new Date());
  // sitemap "only": the seeds name the sites whose sitemaps make the crawl; a seed is crawled only if a sitemap lists
  // it, and no links are followed (maxDepth 0, so the reconciler requeues as it was).
  const only = request.sitemap === 'only';
  const skipped = options.skippedFor !== undefined;
  const seeds = only || skipped ? [] : accepted;
  const crawl: Crawl = {
    crawlId: options.crawlId ?? ulid(),
    status: 'running',
    total: seeds.length,
    succeeded: 0,
    failed: 0,
    createdAt: now().toISOString(),
    options: {
      maxDepth: only ? 0 : request.maxDepth,
      sameOrigin: request.sameOrigin,
      maxPages,
      ...(request.include ? { include: request.include } : {}),
      ...(request.exclude ? { exclude: request.exclude } : {}),
      robotsTxt: request.robotsTxt,
      sitemap: request.sitemap,
      hostDelayMs: request.hostDelayMs ?? defaults.hostDelayMs,
    },
    source,
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(webhook ? { webhook: { url: webhook.url, events: [...new Set(webhook.events)] } } : {}),
    ...(options.skippedFor !== undefined ? { skipped: { previousCrawlId: options.skippedFor } } : {}),
  };
  // Every seed is counted and durably recorded before any message is sent: if this invocation dies from here on,
  // the reconciler finds the seeds that have no outcome and queues them.
  // Sitemap work (include, only): one task per seed origin, counted with the seeds, so the crawl cannot complete before
  // its sitemaps are read (core/sitemap/).
  const sitemapTasks = request.sitemap === 'skip' || skipped ? [] : originTasks(accepted);
  if ((await deps.store.createCrawl(crawl, seeds, sitemapTasks)) === 'exists') {
    return { crawlId: crawl.crawlId, accepted: accepted.length, rejected, unqueued: 0, duplicate: true };
  }
  if (skipped) {
    await deps.store.completeIfDone(crawl.crawlId, crawl.createdAt);
    return { crawlId: crawl.crawlId, accepted: 0, rejected, unqueued: 0, skipped: true };
  }

  // Each message carries what following links needs; the rest of the options (patterns, politeness) stay on the crawl.
  const { maxDepth, sameOrigin } = crawl.options;
  const messages: PageMessage[] = seeds.map((url) => ({ crawlId: crawl.crawlId, url, depth: 0, maxDepth, sameOrigin, maxPages }));
  // Sitemap work that cannot be queued now stays pending on the table, where the reconciler finds it and queues it.
  if (sitemapTasks.length > 0) await deps.sitemapQueue?.send(sitemapTasks.map((task) => toMessage(crawl.crawlId, task)));
  const unsent = await deps.queue.send(messages);
  // The queue adapter has retried already. A URL that still could not be queued ends in a terminal state now, so the
  // crawl cannot stay `running` forever; only then, with the crawl consistent, may the caller get an error.
  if (unsent.length > 0) {
    const at = now().toISOString();
    await deps.store.recordFailures(crawl.crawlId, unsent.map((m) => enqueueFailed(m.url, at)), 0);
    await deps.store.completeIfDone(crawl.crawlId, at);
  }
  if (seeds.length > 0 && unsent.length === seeds.length) {
    throw unavailable('QUEUE_UNAVAILABLE', 'the crawl was recorded but none of its URLs could be queued; it is completed with every URL failed. Try again later', {
      crawlId: crawl.crawlId,
    });
  }

  return { crawlId: crawl.crawlId, accepted: accepted.length, rejected, unqueued: unsent.length };
}

/** An absolute http: or https: URL (the address guard judges where it points when a delivery is made). */
function isAbsoluteHttpUrl(text: string): boolean {
  const url = URL.parse(text);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

/**
 * A ULID that is the same for the same event: its time part from the event's time (crawls still sort by start), its
 * random part from a hash of the event's id.
 */
export function crawlIdForEvent(eventId: string, time: Date): string {
  const digest = createHash('sha256').update(eventId).digest();
  let i = 0;
  return ulid(time.getTime(), () => digest[i++ % digest.length]! / 256);
}

function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}
