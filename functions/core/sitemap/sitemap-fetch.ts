import { PUBLIC_INTERNET, type NetworkAccess } from '../fetch/address-guard.js';
import type { FetchLimits } from '../fetch/fetch-limits.js';
import { fetchStream } from '../fetch/http-client.js';
import { robotsRulesForFetch, ROBOTS_TXT_PARSE_LIMIT_BYTES, type RobotsTxtFetchResult } from '../fetch/robots-rules.js';
import { parseRetryAfter } from '../fetch/transient-failure.js';
import type { Crawl } from '../model/crawl.js';

/** What asking for a sitemap (or robots.txt) came to. A failed fetch throws a FetchError, as pages' fetches do. */
export type SitemapResponse =
  | { kind: 'response'; status: number; finalUrl: string; body: AsyncIterable<Uint8Array>; close(): void; retryAfterMs?: number }
  /** Not to be fetched at all (robots.txt disallows it, say): `code` and `message` say why. */
  | { kind: 'refused'; code: string; message: string }
  /** Not yet: the host's next turn is `delayMs` away; `reservation` is the slot held for it, to come back with. */
  | { kind: 'wait'; delayMs: number; reservation?: number };

/**
 * How the sitemap use case fetches: one GET, the body read as a stream. The default is the guarded client alone
 * (address guard, limits, redirects, User-Agent); the politeness layer's paced, robots-checked fetch takes its place
 * where the consumer builds the dependencies.
 */
export type SitemapFetch = (url: string, crawl: Crawl, timeoutMs: number, reservation?: number) => Promise<SitemapResponse>;

const SITEMAP_ACCEPT = 'application/xml,text/xml;q=0.9,text/plain;q=0.8,*/*;q=0.1';

export function guardedSitemapFetch(limits: FetchLimits, network: NetworkAccess = PUBLIC_INTERNET): SitemapFetch {
  return async (url, _crawl, timeoutMs) => {
    const res = await fetchStream(url, { ...limits, timeoutMs: Math.max(limits.timeoutMs, timeoutMs) }, network, SITEMAP_ACCEPT);
    const retryAfterMs = parseRetryAfter(res.retryAfter);
    return { kind: 'response', status: res.status, finalUrl: res.finalUrl, body: res.body, close: res.close, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  };
}

/** What an origin's robots.txt says about its sitemaps. */
export type RobotsSitemaps = { kind: 'sitemaps'; urls: readonly string[] } | { kind: 'unreachable'; why: string } | { kind: 'wait'; delayMs: number; reservation?: number };

/** How the sitemap use case learns an origin's robots.txt Sitemap lines: robotsSitemaps over a fetch, or the politeness cache. */
export type RobotsSitemapsLookup = (origin: string, crawl: Crawl, timeoutMs: number, reservation?: number) => Promise<RobotsSitemaps>;

/**
 * The `Sitemap:` lines of an origin's robots.txt, fetched through `fetch` (so with the same pacing) and read up to
 * RFC 9309's 500 KiB. A 4xx (no robots.txt) names none; a 5xx or a failed fetch is `unreachable`.
 */
export async function robotsSitemaps(origin: string, crawl: Crawl, fetch: SitemapFetch, timeoutMs: number, reservation?: number): Promise<RobotsSitemaps> {
  const url = `${origin}/robots.txt`;
  let result: RobotsTxtFetchResult;
  try {
    const res = await fetch(url, crawl, timeoutMs, reservation);
    if (res.kind === 'wait') return res;
    if (res.kind === 'refused') return { kind: 'unreachable', why: `${res.code}: ${res.message}` };
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= ROBOTS_TXT_PARSE_LIMIT_BYTES) break;
      }
    } finally {
      res.close();
    }
    result = { kind: 'response', status: res.status, body: Buffer.concat(chunks).subarray(0, ROBOTS_TXT_PARSE_LIMIT_BYTES) };
  } catch (err) {
    return { kind: 'unreachable', why: err instanceof Error ? err.message : String(err) };
  }
  const rules = robotsRulesForFetch(result, 'serverless-crawler');
  if (rules.verdict === 'unreachable') return { kind: 'unreachable', why: `robots.txt answered ${result.kind === 'response' ? result.status : 'nothing'}` };
  return { kind: 'sitemaps', urls: rules.sitemaps };
}
