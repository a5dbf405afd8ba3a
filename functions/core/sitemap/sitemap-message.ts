import * as z from 'zod/mini';

/**
 * One piece of a crawl's sitemap work, a message of its own on the page queue (`kind: 'sitemap'`; a message without a
 * kind is a page), so it runs in the consumer with its retries and dead-letter queue, not in the API's 29 s:
 * - level 0: find the origin's sitemaps (its robots.txt `Sitemap:` lines, else /sitemap.xml); `url` is its robots.txt;
 * - level 1: a sitemap so found; levels 2 and 3: sitemaps a sitemap index at the level above lists (an index at
 *   MAX_SITEMAP_LEVEL is not read further).
 * `origin` is the seed origin the work is for: sameOrigin keeps a sitemap's entries on it, wherever the sitemap is.
 */
export const sitemapMessageSchema = z.object({
  kind: z.literal('sitemap'),
  crawlId: z.string().check(z.minLength(1)),
  origin: z.string().check(z.minLength(1)),
  url: z.string().check(z.minLength(1)),
  level: z.int().check(z.minimum(0)),
  /** Attempts used by earlier messages of this work: one that waited for its host's turn is sent again as a new message. */
  attempts: z.optional(z.int().check(z.minimum(0))),
  /** The start it reserved on its host (epoch ms) when it was sent again to come back for its turn. */
  reservation: z.optional(z.int().check(z.minimum(0))),
});
export type SitemapMessage = z.infer<typeof sitemapMessageSchema>;

/** What identifies a piece of sitemap work within its crawl. */
export type SitemapTask = Pick<SitemapMessage, 'origin' | 'url' | 'level'>;

/** Index nesting: a sitemap at this level that turns out to be an index has its entries ignored. */
export const MAX_SITEMAP_LEVEL = 3;
/** Sitemaps (every level past 0) read for one origin of one crawl: the rest are ignored. */
export const MAX_SITEMAPS_PER_ORIGIN = 50;

/** Whether a queue message's body is sitemap work (anything else, kind or none, is handled as a page). */
export const isSitemapBody = (body: unknown): boolean => typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'sitemap';

/** The level-0 task of each distinct origin of these (normalized) seeds. */
export function originTasks(seeds: readonly string[]): SitemapTask[] {
  const origins = new Set(seeds.map((url) => new URL(url).origin));
  return [...origins].map((origin) => ({ origin, url: `${origin}/robots.txt`, level: 0 }));
}

export const toMessage = (crawlId: string, task: SitemapTask): SitemapMessage => ({ kind: 'sitemap', crawlId, origin: task.origin, url: task.url, level: task.level });
