import { DEFAULT_SUBMIT_POLICY } from '../core/crawl/submit-crawl.js';
import { DEFAULT_USER_AGENT } from '../core/fetch/user-agent.js';
import { MAX_PENALTY_MS } from '../core/polite/pacing-policy.js';
import { integer, text, type Settings } from './setting.js';

/** How the crawler behaves towards the sites it visits (the contract's Politeness). */
export const POLITENESS_SETTINGS = {
  userAgent: text({
    env: 'USER_AGENT',
    doc: 'The User-Agent of every request (pages, robots.txt, sitemaps); its product token is the name robots.txt groups are matched against.',
    maxLength: 256,
    default: DEFAULT_USER_AGENT,
  }),
  hostDelayMs: integer({
    env: 'HOST_DELAY_MS',
    doc: "Least time between two request starts to one host, for a crawl whose request does not say (its hostDelayMs).",
    min: 0,
    max: 60_000,
    default: DEFAULT_SUBMIT_POLICY.hostDelayMs,
  }),
  maxCrawlDelaySeconds: integer({
    env: 'MAX_CRAWL_DELAY_SECONDS',
    doc: "Longest robots.txt Crawl-delay honoured; a host asking for more has its URLs fail with CRAWL_DELAY_TOO_LONG.",
    min: 0,
    max: 3600,
    default: 30,
  }),
  maxThrottleMs: integer({
    env: 'MAX_THROTTLE_MS',
    doc:
      'AutoThrottle: a host that answers 429 or 503 or times out gets an interval of 1 s, doubling with each such answer up ' +
      'to this, and easing back with good answers; 0 turns it off.',
    min: 0,
    max: 600_000,
    default: MAX_PENALTY_MS,
  }),
} satisfies Settings;

/** What bounds one crawl. */
export const CRAWL_LIMIT_SETTINGS = {
  maxPagesPerCrawl: integer({
    env: 'MAX_PAGES_PER_CRAWL',
    doc: "Default and upper bound of a crawl's maxPages.",
    min: 1,
    max: 1_000_000,
    default: DEFAULT_SUBMIT_POLICY.maxPagesPerCrawl,
  }),
} satisfies Settings;
