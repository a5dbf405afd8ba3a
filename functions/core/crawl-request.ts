import { z } from 'zod';

/** Contract limits on one POST /crawls request. */
export const MAX_URLS_PER_REQUEST = 10_000;
export const MAX_URL_LENGTH = 2_048;

/**
 * The body of POST /crawls (and the `crawl` of a schedule). URLs are checked one by one later, so that one bad URL
 * lands in `rejected` instead of failing the request; here they only have to be strings.
 */
export const crawlRequestSchema = z.strictObject({
  urls: z.array(z.string()).min(1, 'urls must hold at least one URL'),
  maxDepth: z.int().min(0).max(10).default(0),
  maxPages: z.int().min(1).max(1_000_000).optional(),
  sameOrigin: z.boolean().default(true),
});

export type CrawlRequestInput = z.input<typeof crawlRequestSchema>;
export type CrawlRequest = z.output<typeof crawlRequestSchema>;
