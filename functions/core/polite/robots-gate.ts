// What robots.txt says about one URL, as a pure decision on what is known of the URL's origin: its rules, or why they
// could not be had. No I/O: robots-source.ts gets the record (memo, table, fetch), this module judges.
import {
  robotsRulesForFetch,
  robotsRulesFromSnapshot,
  type RobotsRules,
  type RobotsRulesSnapshot,
  type RobotsTxtFetchResult,
} from '../fetch/robots-rules.js';
import type { RobotsFetchOutcome } from '../fetch/robots-fetch.js';

/** RFC 9309 §2.4: a robots.txt is reused for at most 24 hours. */
export const ROBOTS_TTL_MS = 24 * 3600 * 1000;
/** An unreachable robots.txt (5xx, a failed fetch) is asked again after this: the URLs waiting on it retry meanwhile. */
export const ROBOTS_FAILURE_TTL_MS = 60_000;

/** What is known of one origin's robots.txt, as the cache keeps it (plain data). */
export interface RobotsRecord {
  /** "https://example.com" (scheme, host, port as URL.origin spells it). */
  origin: string;
  /** Epoch ms. */
  fetchedAt: number;
  /** Epoch ms until which the record may be used. */
  validUntil: number;
  /** The rules: a 2xx file's, or allow-all (4xx), or disallow-all (5xx, failed). */
  rules: RobotsRulesSnapshot;
  /** Why there are no rules from a file, when the fetch failed or the server erred: the URL's error, and whether trying later may help. */
  failure?: { code: string; message: string; transient: boolean };
}

/**
 * The record for a fetch, as the contract and RFC 9309 §2.3.1 say: 2xx → the file's rules; 3xx left unfollowed and
 * 4xx → everything allowed; 5xx or a transient failure (timeout, reset, refused) → everything disallowed for now,
 * and the URL retried; more than 5 redirects → unavailable (§2.3.1.2), allowed. A failure that trying again will not
 * fix fails the URL at once: at the origin itself (DNS, a blocked address, TLS) with that error, as fetching the page
 * would; after a redirect elsewhere (a robots.txt redirecting to a private address) as ROBOTS_UNREACHABLE.
 */
export function robotsRecordFor(origin: string, outcome: RobotsFetchOutcome, userAgentToken: string, now: number): RobotsRecord {
  const record = (result: RobotsTxtFetchResult, failure?: RobotsRecord['failure']): RobotsRecord => {
    const rules = robotsRulesForFetch(result, userAgentToken);
    const failed = failure !== undefined || rules.verdict === 'unreachable';
    return { origin, fetchedAt: now, validUntil: now + (failed ? ROBOTS_FAILURE_TTL_MS : ROBOTS_TTL_MS), rules: rules.toSnapshot(), ...(failure ? { failure } : {}) };
  };
  if (outcome.kind === 'response') {
    if (outcome.status >= 500) {
      return record({ kind: 'response', status: outcome.status, body: outcome.body }, {
        code: 'ROBOTS_UNREACHABLE',
        message: `${origin}/robots.txt answered ${outcome.status}, so nothing on ${origin} may be fetched for now`,
        transient: true,
      });
    }
    return record({ kind: 'response', status: outcome.status, body: outcome.body });
  }
  if (outcome.code === 'TOO_MANY_REDIRECTS') return record({ kind: 'response', status: 399, body: new Uint8Array() });
  const atOrigin = originOf(outcome.finalUrl) === origin;
  const failure = outcome.transient
    ? { code: 'ROBOTS_UNREACHABLE', message: `${origin}/robots.txt could not be fetched (${outcome.code}: ${outcome.message})`, transient: true }
    : atOrigin
      ? { code: outcome.code, message: outcome.message, transient: false }
      : { code: 'ROBOTS_UNREACHABLE', message: `${origin}/robots.txt could not be fetched: ${outcome.finalUrl} failed (${outcome.code}: ${outcome.message})`, transient: false };
  return record({ kind: 'failed' }, failure);
}

/** A record with its rules compiled, for matching many URLs. */
export interface KnownRobots {
  record: RobotsRecord;
  rules: RobotsRules;
}

export function knownRobots(record: RobotsRecord): KnownRobots {
  return { record, rules: robotsRulesFromSnapshot(record.rules) };
}

export type RobotsDecision =
  /** Fetch it, no sooner than `crawlDelayMs` after the host's previous request (0: no Crawl-delay). */
  | { kind: 'allow'; crawlDelayMs: number }
  /** Fail the URL with `error`; `transient`: retry it (the same URL may be allowed later). */
  | { kind: 'fail'; error: { code: string; message: string }; transient: boolean };

/** What robots.txt says about fetching `url` (on the record's origin), with the deployment's longest Crawl-delay. */
export function robotsDecision(known: KnownRobots, url: string, maxCrawlDelaySeconds: number): RobotsDecision {
  const { record, rules } = known;
  if (rules.isAllowed(url)) {
    const delay = rules.crawlDelaySeconds ?? 0;
    if (delay > maxCrawlDelaySeconds) {
      return {
        kind: 'fail',
        error: { code: 'CRAWL_DELAY_TOO_LONG', message: `${record.origin}/robots.txt asks for a Crawl-delay of ${delay} s; this deployment waits at most ${maxCrawlDelaySeconds} s` },
        transient: false,
      };
    }
    return { kind: 'allow', crawlDelayMs: Math.ceil(delay * 1000) };
  }
  if (record.failure) return { kind: 'fail', error: { code: record.failure.code, message: record.failure.message }, transient: record.failure.transient };
  const rule = rules.matchingRule(url);
  const group = rules.group === 'token' ? 'our product token' : 'User-agent: *';
  const because = rule ? `: Disallow: ${rule.pattern}` : '';
  return { kind: 'fail', error: { code: 'ROBOTS_DISALLOWED', message: `${record.origin}/robots.txt disallows this URL (${group}${because})` }, transient: false };
}

/** "https://example.com" of "https://example.com/a/b?c". */
export function originOf(url: string | URL): string {
  return (typeof url === 'string' ? new URL(url) : url).origin;
}
