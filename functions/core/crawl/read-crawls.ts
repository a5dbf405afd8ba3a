import { invalid, notFound } from '../model/errors.js';
import type { Crawl } from '../model/crawl.js';
import type { CrawlStore, PageList } from '../model/ports.js';
import type { Change, Summary } from '../model/summary.js';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../model/limits.js';
import { normalizeUrl } from '../model/url.js';

// The use cases behind the GET routes.

/** Crawl ids are ULIDs; anything else cannot name a crawl, so it is a 404 without a read. */
const CRAWL_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const isCrawlId = (text: string) => CRAWL_ID.test(text);

/**
 * What GET /crawls/{crawlId} (and DELETE, listings, events) shows of a crawl: its progress and labels, not its
 * internals; `schedule` is the name of the schedule that started it.
 */
export type CrawlStatusView = Pick<Crawl, 'crawlId' | 'status' | 'total' | 'succeeded' | 'failed' | 'createdAt' | 'completedAt' | 'cancelledAt' | 'name' | 'skipped'> & {
  schedule?: string;
};

/** What a client sent, echoed back at most 64 characters long. */
const shown = (text: string) => (text.length > 64 ? `${text.slice(0, 64)}…` : text);

/** The contract's 404 for a crawl id that names no crawl. */
export const crawlNotFound = (crawlId: string) => notFound('CRAWL_NOT_FOUND', `no crawl with id ${shown(crawlId)}`);

async function requireCrawl(store: CrawlStore, crawlId: string): Promise<Crawl> {
  const crawl = isCrawlId(crawlId) ? await store.getCrawl(crawlId) : null;
  if (!crawl) throw crawlNotFound(crawlId);
  return crawl;
}

export function crawlStatusView(c: Crawl): CrawlStatusView {
  return {
    crawlId: c.crawlId, status: c.status, total: c.total, succeeded: c.succeeded, failed: c.failed, createdAt: c.createdAt,
    ...(c.completedAt ? { completedAt: c.completedAt } : {}),
    ...(c.cancelledAt ? { cancelledAt: c.cancelledAt } : {}),
    ...(c.name !== undefined ? { name: c.name } : {}),
    ...(c.source.kind === 'schedule' ? { schedule: c.source.name } : {}),
    ...(c.skipped ? { skipped: c.skipped } : {}),
  };
}

export async function getCrawlStatus(store: CrawlStore, crawlId: string): Promise<CrawlStatusView> {
  return crawlStatusView(await requireCrawl(store, crawlId));
}

/** A page size from the query: a whole number from 1 to MAX_PAGE_LIMIT, else INVALID_LIMIT. */
function limitOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PAGE_LIMIT;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) throw invalid('INVALID_LIMIT', `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  return limit;
}

const CHANGES: readonly Change[] = ['new', 'same', 'changed'];

export async function listCrawlPages(
  store: CrawlStore,
  crawlId: string,
  query: { limit?: string | undefined; cursor?: string | undefined; change?: string | undefined },
): Promise<PageList> {
  const limit = limitOf(query.limit);
  const change = query.change === undefined || query.change === '' ? undefined : (query.change as Change);
  if (change !== undefined && !CHANGES.includes(change)) throw invalid('INVALID_CHANGE', `change must be one of ${CHANGES.join(', ')}`);
  await requireCrawl(store, crawlId);
  return store.listPages(crawlId, limit, query.cursor || undefined, change);
}

/** A schedule's name as configured (lib/config.ts): anything else names no schedule, so its listing is empty. */
const SCHEDULE_NAME = /^[A-Za-z0-9-]{1,40}$/;

/** GET /crawls: crawls newest first, or one schedule's runs, as GET /crawls/{crawlId} shows each. */
export async function listCrawls(
  store: CrawlStore,
  query: { limit?: string | undefined; cursor?: string | undefined; schedule?: string | undefined },
): Promise<{ items: CrawlStatusView[]; cursor: string | null }> {
  const limit = limitOf(query.limit);
  const schedule = query.schedule === '' ? undefined : query.schedule;
  if (schedule !== undefined && !SCHEDULE_NAME.test(schedule)) return { items: [], cursor: null };
  const listing = await store.listCrawls({ limit, cursor: query.cursor || undefined, schedule });
  return { items: listing.items.map(crawlStatusView), cursor: listing.cursor };
}

export async function getLatestPage(store: CrawlStore, url: string | undefined): Promise<Summary> {
  if (url === undefined || url === '') throw invalid('MISSING_URL', 'give the page as ?url=<absolute URL>');
  const check = normalizeUrl(url);
  if (!check.ok) throw invalid('INVALID_URL', `url: ${check.reason}`);
  const summary = await store.getLatest(check.url);
  if (!summary) throw notFound('PAGE_NOT_FOUND', `${check.url} has never been crawled`);
  return summary;
}
