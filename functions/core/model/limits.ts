/**
 * The crawler's fixed limits, named once: what one request may hold, and the bounds that keep one page's work and one
 * stored item small. Deployment settings (timeouts, body cap, retries…) are not here: see each function's settings.
 */

/** Contract limits on one POST /crawls request. */
export const MAX_URLS_PER_REQUEST = 10_000;
export const MAX_URL_LENGTH = 2_048;

/** GET /crawls/{crawlId}/pages: summaries per page of results, by default and at most. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** A page with more links than this has only its first ones followed: it bounds one message's work. */
export const MAX_LINKS_PER_PAGE = 5_000;

/**
 * A page may put megabytes into its <title> or <meta>; a summary must still fit a DynamoDB item (400 KB), or the
 * write would fail on every delivery and the crawl would never complete. Real pages stay far below this cap.
 */
export const MAX_TEXT_FIELD_CHARS = 16_384;

/**
 * Most URLs (pages or links) one counted write holds beside the crawl's own item, since a DynamoDB transaction holds
 * 100 items: the store writes in groups of this size, and the consumer gathers finished pages to fill one.
 */
export const URLS_PER_COUNTED_WRITE = 99;
