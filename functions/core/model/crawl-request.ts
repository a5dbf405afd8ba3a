import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import { patternProblem } from '../crawl/scope.js';
import { WEBHOOK_EVENTS } from './crawl.js';
import { MAX_URL_LENGTH } from './limits.js';

// zod/mini keeps the Lambda bundles small (the classic API and its locales are ~440 KB minified); the English
// messages are configured once, here, so errors read as they did.
z.config(en());

/**
 * The body of POST /crawls (and the `crawl` of a schedule). URLs are checked one by one later, so that one bad URL
 * lands in `rejected` instead of failing the request; here they only have to be strings.
 */
/** include/exclude: at most this many patterns, each at most this long (the contract's limits). */
export const MAX_PATTERNS = 100;
/** A crawl's name: at most this many characters. */
export const MAX_NAME_LENGTH = 100;
export const MAX_PATTERN_LENGTH = 500;
const patterns = z.optional(
  z
    .array(
      z.string().check(
        z.minLength(1),
        z.maxLength(MAX_PATTERN_LENGTH),
        // Every string is a pattern (only `*` is special), but one with a character no normalized URL holds would
        // silently match nothing: it is refused, named, instead.
        z.superRefine((pattern, ctx) => {
          const problem = patternProblem(pattern);
          if (problem) ctx.addIssue({ code: 'custom', input: pattern, message: `${JSON.stringify(pattern)} ${problem}` });
        }),
      ),
    )
    .check(z.maxLength(MAX_PATTERNS)),
);

export const crawlRequestSchema = z.strictObject({
  urls: z.array(z.string()).check(z.minLength(1, 'urls must hold at least one URL')),
  maxDepth: z._default(z.int().check(z.minimum(0), z.maximum(10)), 0),
  /** Default and upper bound: the deployment's limits.maxPagesPerCrawl, applied by submitCrawl. */
  maxPages: z.optional(z.int().check(z.minimum(1), z.maximum(1_000_000))),
  sameOrigin: z._default(z.boolean(), true),
  /** URL patterns for discovered URLs (links, sitemap entries); seeds are never filtered. */
  include: patterns,
  exclude: patterns,
  robotsTxt: z._default(z.enum(['obey', 'ignore']), 'obey'),
  sitemap: z._default(z.enum(['skip', 'include', 'only']), 'skip'),
  /** Default: the deployment's politeness.hostDelayMs, applied by submitCrawl. */
  hostDelayMs: z.optional(z.int().check(z.minimum(0), z.maximum(60_000))),
  /** A label shown in listings. */
  name: z.optional(z.string().check(z.maxLength(MAX_NAME_LENGTH))),
  /** Its URL is checked by submitCrawl (INVALID_WEBHOOK); here only its shape. */
  webhook: z.optional(
    z.strictObject({
      url: z.string().check(z.maxLength(MAX_URL_LENGTH)),
      events: z._default(z.array(z.enum(WEBHOOK_EVENTS)).check(z.minLength(1)), ['crawl.completed']),
    }),
  ),
});

export type CrawlRequestInput = z.input<typeof crawlRequestSchema>;
export type CrawlRequest = z.output<typeof crawlRequestSchema>;
