import { PUBLIC_INTERNET } from '../functions/core/fetch/address-guard.js';
import type { FetchLimits } from '../functions/core/fetch/fetch-limits.js';
import { fetchRobotsTxt } from '../functions/core/fetch/robots-fetch.js';
import { productTokenOf } from '../functions/core/fetch/robots-rules.js';
import { analyzeHere, type Analyze } from '../functions/core/parse/analyze-body.js';
import { failedSummary, type Summary } from '../functions/core/model/summary.js';
import { admitHere, MAX_TURNS, redirectAdmission, reportResponse, type CrawlPoliteness, type PoliteDeps, type PoliteSettings } from '../functions/core/polite/admission.js';
import { MemoryHostPacer, MemoryRobotsStore } from '../functions/core/polite/memory.js';
import { RobotsSource } from '../functions/core/polite/robots-source.js';
import { summarizeUrl } from '../functions/core/summarize/summarize-url.js';

/**
 * `crawler fetch` keeps the contract's politeness in its one process: robots.txt fetched once per origin and obeyed
 * (unless --ignore-robots), each host's requests started at least --host-delay apart (and Crawl-delay, and AutoThrottle's
 * penalty), with the same policy the consumers commit to DynamoDB, kept here in memory. A wait is slept out; nothing is
 * retried (one try per URL, as before), so a robots.txt that is unreachable fails its URLs ROBOTS_UNREACHABLE at once.
 * Pages are parsed by `analyze`: on this thread, or a ParsePool's.
 */
export function politeSummarizer(
  limits: FetchLimits,
  settings: PoliteSettings,
  crawl: CrawlPoliteness,
  analyze: Analyze = analyzeHere,
): (url: string) => Promise<Summary> {
  const withUserAgent: FetchLimits = { ...limits, userAgent: settings.userAgent };
  const polite: PoliteDeps = {
    settings,
    pacer: new MemoryHostPacer(),
    robots: new RobotsSource({
      store: new MemoryRobotsStore(),
      fetch: (origin, turn) => fetchRobotsTxt(origin, { ...withUserAgent, turn }),
      userAgentToken: productTokenOf(settings.userAgent),
      leaseMs: limits.timeoutMs + 5_000,
    }),
  };
  return async (url) => {
    for (let turns = 1; ; turns++) {
      const admission = await admitHere(url, crawl, polite, { preconnect: true });
      if (admission.kind === 'fail') return failedSummary({ url, fetchedAt: new Date().toISOString(), error: admission.error });
      // Each redirect is admitted as the URL was, its wait slept out here however long.
      const hops = redirectAdmission(crawl, polite, { maxWaitMs: Infinity });
      const { summary } = await summarizeUrl(url, { ...withUserAgent, turn: admission.turn, admitRedirect: hops.admit }, PUBLIC_INTERNET, analyze);
      if (summary.error?.code === 'LATE_START' && turns < MAX_TURNS) continue;
      await reportResponse(url, { status: summary.status, errorCode: summary.error?.code }, polite);
      return summary;
    }
  };
}
