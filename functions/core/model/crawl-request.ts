import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';

// zod/mini keeps the Lambda bundles small (the classic API and its locales are ~440 KB minified); the English
// messages are configured once, here, so errors read as they did.
z.config(en());

/**
 * The body of POST /crawls (and the `crawl` of a schedule). URLs are checked one by one later, so that one bad URL
 * lands in `rejected` instead of failing the request; here they only have to be strings.
 */
export const crawlRequestSchema = z.strictObject({
  urls: z.array(z.string()).check(z.minLength(1, 'urls must hold at least one URL')),
  maxDepth: z._default(z.int().check(z.minimum(0), z.maximum(10)), 0),
  maxPages: z.optional(z.int().check(z.minimum(1), z.maximum(1_000_000))),
  sameOrigin: z._default(z.boolean(), true),
});

export type CrawlRequestInput = z.input<typeof crawlRequestSchema>;
export type CrawlRequest = z.output<typeof crawlRequestSchema>;
