import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { PUBLIC_INTERNET } from '../functions/core/fetch/address-guard.js';
import type { FetchLimits } from '../functions/core/fetch/fetch-limits.js';
import { fetchRobotsTxt } from '../functions/core/fetch/robots-fetch.js';
import { productTokenOf } from '../functions/core/fetch/robots-rules.js';
import { analyzeBlocking, analyzeHere, type Analyze } from '../functions/core/parse/analyze-body.js';
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
  analyze: Analyze = analyzeInline(),
): (url: string) => Promise<Summary> {
  const withUserAgent: FetchLimits = { ...limits, userAgent: settings.userAgent };
  const analyzeAndRelease = releasingBodies(analyze);
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
      const { summary } = await summarizeUrl(url, { ...withUserAgent, turn: admission.turn, admitRedirect: hops.admit }, PUBLIC_INTERNET, analyzeAndRelease);
      if (summary.error?.code === 'LATE_START' && turns < MAX_TURNS) continue;
      await reportResponse(url, { status: summary.status, errorCode: summary.error?.code }, polite);
      return summary;
    }
  };
}

/**
 * Parsing on this thread, one page at a time. A large body's hash runs on libuv's thread pool while the page is
 * parsed when another core can run it; with one core it runs here (analyzeBlocking), as the pool's thread would only
 * add a copy of the body and a hand-off on the same core (measured: ~5% less CPU for the bench's crawl).
 */
export function analyzeInline(cores = availableParallelism()): Analyze {
  return oneAtATime(cores > 1 ? analyzeHere : analyzeBlocking);
}

/**
 * Pages analyzed one after another on this thread, each to its end before the next is decoded. The streaming pass
 * yields to the event loop between slices of a large page (so fetches go on meanwhile); without this, every page
 * whose body had arrived would be decoded and part-parsed at once, interleaved slice by slice: at concurrency 64 on
 * one core that is dozens of decoded texts and parse states alive together, and a young generation full of objects
 * that survive it. Pages are parsed no slower one at a time (the core is busy either way).
 */
export function oneAtATime(analyze: Analyze): Analyze {
  const limit = pLimit(1);
  return (body, contentType, documentUrl) => limit(() => analyze(body, contentType, documentUrl));
}

/**
 * `analyze`, after which the body's memory is freed at once instead of at V8's next full collection. A page's
 * objects outlive many young-generation collections while it waits for the parser (64 pages in flight on one core),
 * so they are collected with the old generation, seconds later; until then each body's bytes stayed allocated (the
 * bodies of some hundreds of pages, measured at concurrency 64). Only a body that owns its whole ArrayBuffer is
 * freed: its buffer is moved out (structuredClone's transfer detaches it) into a copy nothing refers to, which the
 * next young collection frees. Nothing reads a page's body once it is analyzed (summarizeUrl takes its length before).
 */
export function releasingBodies(analyze: Analyze): Analyze {
  return async (body, contentType, documentUrl) => {
    try {
      return await analyze(body, contentType, documentUrl);
    } finally {
      const { buffer } = body;
      if (buffer instanceof ArrayBuffer && body.byteOffset === 0 && body.byteLength === buffer.byteLength && buffer.byteLength > 0) {
        structuredClone(buffer, { transfer: [buffer] });
      }
    }
  };
}
