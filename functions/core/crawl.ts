import { ulid } from 'ulid';
import { z } from 'zod';
import { crawlRequestSchema, MAX_URLS_PER_REQUEST } from './crawl-request.js';
import { crawlPage, type PageResult } from './engine.js';
import { AppError, badRequest, notFound } from './errors.js';
import type { FetchLimits } from './fetch.js';
import type { CrawlRecord, CrawlSource, CrawlStore, PageList, PageMessage, PageQueue } from './ports.js';
import { EMPTY_PAGE_FIELDS, type Summary } from './summary.js';
import { normalizeUrl, partitionUrls } from './url.js';

export interface SubmitResult {
  crawlId: string;
  accepted: number;
  rejected: { url: string; reason: string }[];
  /** URLs that could not be queued even after retries; they are recorded as failed so the crawl still completes. */
  unqueued: number;
}

export interface SubmitDeps {
  store: CrawlStore;
  queue: PageQueue;
  now?: () => Date;
}

/** The use case behind POST /crawls and every schedule: validate, record the crawl, queue one message per URL. */
export async function submitCrawl(body: unknown, source: CrawlSource, deps: SubmitDeps): Promise<SubmitResult> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('INVALID_REQUEST', 'the body must be a JSON object like {"urls": ["https://example.com/"]}');
  }
  const urls = (body as { urls?: unknown }).urls;
  if (Array.isArray(urls) && urls.length > MAX_URLS_PER_REQUEST) {
    throw new AppError(413, 'TOO_MANY_URLS', `one request holds at most ${MAX_URLS_PER_REQUEST} URLs; this one has ${urls.length}`);
  }
  const parsed = crawlRequestSchema.safeParse(body);
  if (!parsed.success) throw badRequest('INVALID_REQUEST', describeIssues(parsed.error));
  const request = parsed.data;

  const { accepted, rejected } = partitionUrls(request.urls);
  if (accepted.length === 0) {
    throw badRequest('NO_VALID_URLS', 'none of the URLs can be crawled', { rejected });
  }

  const now = deps.now ?? (() => new Date());
  const crawl: CrawlRecord = {
    crawlId: ulid(),
    status: 'running',
    total: accepted.length,
    succeeded: 0,
    failed: 0,
    createdAt: now().toISOString(),
    options: { maxDepth: request.maxDepth, sameOrigin: request.sameOrigin, ...(request.maxPages ? { maxPages: request.maxPages } : {}) },
    source,
  };
  await deps.store.createCrawl(crawl, accepted, request.maxDepth > 0);

  const messages: PageMessage[] = accepted.map((url) => ({
    crawlId: crawl.crawlId,
    url,
    depth: 0,
    maxDepth: request.maxDepth,
    sameOrigin: request.sameOrigin,
    ...(request.maxPages ? { maxPages: request.maxPages } : {}),
  }));
  const unsent = await deps.queue.send(messages);
  // A URL that could not be queued still ends in a terminal state, so the crawl cannot stay `running` forever.
  for (const message of unsent) {
    await deps.store.recordPage(crawl.crawlId, unreachedSummary(message.url, now(), 'ENQUEUE_FAILED', 'the URL could not be queued'), 0);
  }
  if (unsent.length > 0) await deps.store.completeIfDone(crawl.crawlId, now().toISOString());

  return { crawlId: crawl.crawlId, accepted: accepted.length, rejected, unqueued: unsent.length };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}

function unreachedSummary(url: string, at: Date, code: string, message: string): Summary {
  return {
    url, finalUrl: url, status: null, ok: false, contentType: null, charset: null, ...EMPTY_PAGE_FIELDS,
    bytes: 0, durationMs: 0, fetchedAt: at.toISOString(), contentHash: null, error: { code, message },
  };
}

export interface ProcessDeps {
  store: CrawlStore;
  queue: PageQueue;
  limits: FetchLimits;
  /** The engine; replaceable in tests. */
  crawl?: (url: string, limits: FetchLimits) => Promise<PageResult>;
  now?: () => Date;
}

export type ProcessOutcome = 'recorded' | 'duplicate';

/**
 * The use case behind one SQS message. Idempotent: a redelivered message whose outcome is already stored does no
 * fetch and counts nothing again. Links are registered and queued before the page is recorded, so a crash in
 * between is repaired by the redelivery instead of leaving the crawl short of its children.
 */
export async function processPage(message: PageMessage, deps: ProcessDeps): Promise<ProcessOutcome> {
  const now = deps.now ?? (() => new Date());
  if (await deps.store.hasPage(message.crawlId, message.url)) {
    await deps.store.completeIfDone(message.crawlId, now().toISOString());
    return 'duplicate';
  }
  const { summary, outlinks } = await (deps.crawl ?? crawlPage)(message.url, deps.limits);

  if (summary.ok && message.depth < message.maxDepth) {
    const candidates = linksToFollow(outlinks, message);
    if (candidates.length > 0) {
      const toQueue = await deps.store.registerLinks(message.crawlId, message.url, candidates, message.maxPages);
      const unsent = await deps.queue.send(toQueue.map((url) => ({ ...message, url, depth: message.depth + 1 })));
      // Throwing makes SQS redeliver this message; registerLinks then hands back the same children to queue again.
      if (unsent.length > 0) throw new Error(`${unsent.length} discovered URLs could not be queued`);
    }
  }

  const outcome = await deps.store.recordPage(message.crawlId, summary, message.depth);
  await deps.store.putLatest(message.crawlId, summary);
  await deps.store.completeIfDone(message.crawlId, now().toISOString());
  return outcome;
}

function linksToFollow(outlinks: readonly string[], message: PageMessage): string[] {
  const origin = new URL(message.url).origin;
  const out: string[] = [];
  for (const link of outlinks) {
    const check = normalizeUrl(link);
    if (!check.ok) continue;
    if (message.sameOrigin && new URL(check.url).origin !== origin) continue;
    if (check.url !== message.url) out.push(check.url);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reads.

const CRAWL_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export interface CrawlStatusView {
  crawlId: string;
  status: 'running' | 'completed';
  total: number;
  succeeded: number;
  failed: number;
  createdAt: string;
  completedAt?: string;
}

async function requireCrawl(store: CrawlStore, crawlId: string): Promise<CrawlRecord> {
  const crawl = CRAWL_ID.test(crawlId) ? await store.getCrawl(crawlId) : null;
  if (!crawl) throw notFound('CRAWL_NOT_FOUND', `no crawl with id ${crawlId}`);
  return crawl;
}

export async function getCrawlStatus(store: CrawlStore, crawlId: string): Promise<CrawlStatusView> {
  const c = await requireCrawl(store, crawlId);
  return {
    crawlId: c.crawlId, status: c.status, total: c.total, succeeded: c.succeeded, failed: c.failed, createdAt: c.createdAt,
    ...(c.completedAt ? { completedAt: c.completedAt } : {}),
  };
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

export async function listCrawlPages(
  store: CrawlStore,
  crawlId: string,
  query: { limit?: string | undefined; cursor?: string | undefined },
): Promise<PageList> {
  let limit = DEFAULT_PAGE_LIMIT;
  if (query.limit !== undefined) {
    limit = /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) {
      throw badRequest('INVALID_LIMIT', `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
    }
  }
  await requireCrawl(store, crawlId);
  return store.listPages(crawlId, limit, query.cursor || undefined);
}

export async function getLatestPage(store: CrawlStore, url: string | undefined): Promise<Summary> {
  if (url === undefined || url === '') throw badRequest('MISSING_URL', 'give the page as ?url=<absolute URL>');
  const check = normalizeUrl(url);
  if (!check.ok) throw badRequest('INVALID_URL', `url is ${check.reason}`);
  const summary = await store.getLatest(check.url);
  if (!summary) throw notFound('PAGE_NOT_FOUND', `${check.url} has never been crawled`);
  return summary;
}
