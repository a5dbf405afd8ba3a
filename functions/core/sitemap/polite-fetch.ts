import type { NetworkAccess } from '../fetch/address-guard.js';
import type { FetchLimits } from '../fetch/fetch-limits.js';
import { FetchError } from '../fetch/http-client.js';
import { admit, fetchPolitely, type PoliteDeps } from '../polite/admission.js';
import { guardedSitemapFetch, type RobotsSitemapsLookup, type SitemapFetch, type SitemapResponse } from './sitemap-fetch.js';

/**
 * Sitemaps fetched as politely as pages (core/polite/): robots.txt obeyed unless the crawl ignores it (a disallowed
 * sitemap is refused, ROBOTS_DISALLOWED), the host's turn taken across every consumer, AutoThrottle told how it went.
 * A turn that is later comes back as `wait`; a transient refusal (robots.txt unreachable) is thrown as a transient
 * FetchError, retried as any transient failure.
 */
export function politeSitemapFetch(polite: PoliteDeps, limits: FetchLimits, network?: NetworkAccess, cancelled?: (crawlId: string) => Promise<boolean>): SitemapFetch {
  return async (url, crawl, timeoutMs, reservation) => {
    const got = await fetchPolitely(
      url,
      crawl.options,
      polite,
      // The request's turn and its redirects' admission go to the guarded fetch, which sends in the turn.
      (request) => guardedSitemapFetch({ ...limits, ...request }, network)(url, crawl, timeoutMs) as Promise<Extract<SitemapResponse, { kind: 'response' }>>,
      { reservation, ...(cancelled ? { cancelled: () => cancelled(crawl.crawlId) } : {}) },
    );
    if (got.kind === 'fetched') return got.response;
    if (got.kind === 'wait') return { kind: 'wait', delayMs: Math.max(0, got.until - Date.now()), ...(got.reservation !== undefined ? { reservation: got.reservation } : {}) };
    if (got.transient) throw new FetchError(got.error.code, got.error.message, url, null, true);
    return { kind: 'refused', code: got.error.code, message: got.error.message };
  };
}

/**
 * An origin's robots.txt Sitemap lines from the politeness layer's shared cache: robots.txt is fetched at most once per
 * origin a day for every purpose (pages' rules and sitemaps alike), in the host's turn.
 */
export function politeRobotsSitemaps(polite: PoliteDeps, cancelled?: (crawlId: string) => Promise<boolean>): RobotsSitemapsLookup {
  return async (origin, crawl, _timeoutMs, reservation) => {
    const lookup = await polite.robots.lookup(origin, async () => {
      // The robots.txt request's own turn on the host: pacing only (the rules are what is being fetched).
      const turn = await admit(`${origin}/robots.txt`, { ...crawl.options, robotsTxt: 'ignore' }, polite, {
        reservation,
        preconnect: true,
        ...(cancelled ? { cancelled: () => cancelled(crawl.crawlId) } : {}),
      });
      if (turn.kind === 'wait') return turn;
      // Cancelled: robots.txt is not fetched for it; the task comes back and ends as its crawl did.
      if (turn.kind === 'fail') return { kind: 'wait', until: Date.now() + 1_000 };
      return turn.turn ? { kind: 'go', turn: turn.turn } : { kind: 'go' };
    });
    if (lookup.kind === 'wait') return { kind: 'wait', delayMs: Math.max(0, lookup.until - Date.now()), ...(lookup.reservation !== undefined ? { reservation: lookup.reservation } : {}) };
    const { rules } = lookup.known;
    if (rules.verdict === 'unreachable') return { kind: 'unreachable', why: `${origin}/robots.txt could not be fetched` };
    return { kind: 'sitemaps', urls: rules.sitemaps };
  };
}
