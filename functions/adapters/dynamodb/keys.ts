// Invariant: every item's key is built here and nowhere else, so one URL always has the same PAGE#, SEEN# and URL#
// key (its SHA-256), and a key's shape is checked in one place.
import { createHash } from 'node:crypto';
import { runningCrawlsIndex } from '../../../lib/resources.js';
import { hostKeyOf } from '../../core/polite/pacing-policy.js';

/**
 * The crawl table (lib/resources.ts defines it):
 *   crawl        PK CRAWL#<id>  SK #META        status, counters (total, succeeded, failed, pending), options
 *   page         PK CRAWL#<id>  SK PAGE#<hash>  the Summary of one URL in that crawl
 *   seen link    PK CRAWL#<id>  SK SEEN#<hash>  a URL the crawl has counted (seeds included): its depth, which page
 *                                              found it, the lease of whoever queues it, times the reconciler requeued it
 *   latest       PK URL#<hash>  SK #LATEST      the newest Summary of a URL across crawls
 *   host pace    PK HOST#<host:port>  SK #PACE           a host's turns: last start, reservations' tail, penalty
 *   robots.txt   PK HOST#<host:port>  SK ROBOTS#<scheme> an origin's robots.txt rules (compressed), or the lease to fetch them
 *   sitemap work PK CRAWL#<id>  SK SITEMAP#<hash> one piece of the crawl's sitemap work (an origin's robots.txt, a
 *                                              sitemap): pending or done, what it counted (sitemap-work.ts)
 * URLs are keyed by their SHA-256 because a 2,048-character URL does not fit DynamoDB's 1,024-byte sort key.
 * `pending` = total − succeeded − failed, kept in the same writes, so "done" is a plain condition `pending = 0`.
 * The table is the truth: every URL counted in `total` has its SEEN item before its message is sent, so a URL whose
 * message was lost is a SEEN item with no PAGE item, which the reconciler finds (reconcile.ts).
 */
export const META = '#META';
export const PAGE_PREFIX = 'PAGE#';
export const SEEN_PREFIX = 'SEEN#';
export const SITEMAP_PREFIX = 'SITEMAP#';
const CRAWL_PREFIX = 'CRAWL#';

const urlHash = (url: string) => createHash('sha256').update(url).digest('base64url');

export const crawlPk = (id: string) => `${CRAWL_PREFIX}${id}`;
export const crawlIdOf = (pk: string) => pk.slice(CRAWL_PREFIX.length);
export const pageSk = (url: string) => `${PAGE_PREFIX}${urlHash(url)}`;
export const seenSk = (url: string) => `${SEEN_PREFIX}${urlHash(url)}`;
/** The URL hash a PAGE# or SEEN# sort key ends with: a page and a seen item of one URL share it. */
export const urlHashOf = (sk: string, prefix: typeof PAGE_PREFIX | typeof SEEN_PREFIX) => sk.slice(prefix.length);
/** A page's sort key as pageSk writes it (a SHA-256 in base64url is 43 characters). */
const PAGE_SK = new RegExp(`^${PAGE_PREFIX}[A-Za-z0-9_-]{43}$`);
export const isPageSk = (sk: string) => PAGE_SK.test(sk);

export const crawlKey = (id: string) => ({ PK: crawlPk(id), SK: META });
export const pageKey = (crawlId: string, url: string) => ({ PK: crawlPk(crawlId), SK: pageSk(url) });
export const seenKey = (crawlId: string, url: string) => ({ PK: crawlPk(crawlId), SK: seenSk(url) });
/** One piece of sitemap work: a sitemap read for one seed origin (two origins may share a sitemap and read it each). */
export const sitemapKey = (crawlId: string, task: { origin: string; url: string }) => ({ PK: crawlPk(crawlId), SK: `${SITEMAP_PREFIX}${urlHash(`${task.origin} ${task.url}`)}` });
export const latestKey = (url: string) => ({ PK: `URL#${urlHash(url)}`, SK: '#LATEST' });
/** A host is `hostname:port` (hostKeyOf), at most 253 + 6 characters: it fits a key as it is. */
export const hostPaceKey = (host: string) => ({ PK: `HOST#${host}`, SK: '#PACE' });
/** An origin's robots.txt, beside its host's pace: `https://example.com` → HOST#example.com:443, ROBOTS#https. */
export const robotsKey = (origin: string) => {
  const url = new URL(origin);
  return { PK: `HOST#${hostKeyOf(url)}`, SK: `ROBOTS#${url.protocol.slice(0, -1)}` };
};

/**
 * Running crawls carry this attribute, which keys the sparse `running` index the reconciler reads; completing a crawl
 * removes it. One value: the index is written only when a crawl starts or ends, never per page.
 */
export const RUNNING = { index: runningCrawlsIndex.indexName, attribute: runningCrawlsIndex.partitionKey.name, value: 'RUNNING' } as const;
