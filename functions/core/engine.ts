import { performance } from 'node:perf_hooks';
import { PUBLIC_INTERNET, type NetworkAccess } from './address-guard.js';
import { analyzeHere, type Analyze } from './analyze.js';
import { FetchError, fetchDocument } from './fetch.js';
import { resolveLinks } from './summarize.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from './fetch-limits.js';
import { failedSummary, type Summary } from './summary.js';

export interface PageResult {
  summary: Summary;
  /** Links found on the page, resolved on demand (none unless it was parsed). */
  outlinks: () => string[];
  /**
   * Set when the failure is transient (a timeout, a reset, a DNS server failure, a 5xx, 429 or 408): the same fetch
   * may well succeed later. `afterMs` is what the server asked for with Retry-After, when it did.
   */
  retry: { afterMs?: number } | null;
}

const NO_LINKS = () => [];

/** HTTP statuses worth retrying: the server is overloaded or failing for now, not refusing this URL for good. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) || !/[a-z]/i.test(text) ? undefined : Math.max(0, at - now);
}

/**
 * The crawler's engine: fetch, decode, parse, summarize one URL. The consumer Lambda and `crawler fetch` both call
 * this, so a page comes out the same whichever ran it. It never throws for anything the page or the network did:
 * those end in a Summary with `ok: false` and an error code.
 */
export async function crawlPage(
  url: string,
  limits: FetchLimits = DEFAULT_FETCH_LIMITS,
  network: NetworkAccess = PUBLIC_INTERNET,
  analyze: Analyze = analyzeHere,
): Promise<PageResult> {
  const result = await crawl(url, limits, network, analyze);
  return { ...result, summary: capTextFields(result.summary) };
}

/**
 * A page may put megabytes into its <title> or <meta>; a summary must still fit a DynamoDB item (400 KB), or the
 * write would fail on every delivery and the crawl would never complete. Real pages stay far below this cap.
 */
export const MAX_TEXT_FIELD_CHARS = 16_384;
const TEXT_FIELDS = ['title', 'lang', 'description', 'canonical', 'finalUrl'] as const;

function capTextFields(summary: Summary): Summary {
  const capped = { ...summary };
  for (const field of TEXT_FIELDS) {
    const value = capped[field];
    if (typeof value === 'string' && value.length > MAX_TEXT_FIELD_CHARS) capped[field] = value.slice(0, MAX_TEXT_FIELD_CHARS);
  }
  return capped;
}

async function crawl(url: string, limits: FetchLimits, network: NetworkAccess, analyze: Analyze): Promise<PageResult> {
  const started = performance.now();
  const fetchedAt = new Date().toISOString();
  const elapsed = () => Math.round(performance.now() - started);

  let doc;
  try {
    doc = await fetchDocument(url, limits, network);
  } catch (err) {
    const e = err instanceof FetchError ? err : new FetchError('FETCH_FAILED', 'the fetch failed', url);
    const error = { code: e.code, message: e.message };
    return {
      summary: failedSummary({ url, fetchedAt, finalUrl: e.finalUrl, status: e.status, durationMs: elapsed(), error }),
      outlinks: NO_LINKS,
      retry: e.transient ? {} : null,
    };
  }
  const fail = (code: string, message: string, bytes = 0, retry: PageResult['retry'] = null): PageResult => ({
    summary: failedSummary({
      url, fetchedAt, finalUrl: doc.finalUrl, status: doc.status, contentType: doc.mediaType, bytes, durationMs: elapsed(), error: { code, message },
    }),
    outlinks: NO_LINKS,
    retry,
  });

  if (doc.status < 200 || doc.status >= 300) {
    const afterMs = parseRetryAfter(doc.retryAfter);
    const retry = isTransientStatus(doc.status) ? (afterMs === undefined ? {} : { afterMs }) : null;
    return fail(`HTTP_${doc.status}`, `the server answered ${doc.status}`, 0, retry);
  }
  if (doc.body === null) return fail('NOT_HTML', `${doc.mediaType} is not HTML`);
  if (doc.mediaType === null && !looksLikeHtml(doc.body)) {
    return fail('NOT_HTML', 'no Content-Type, and the body does not look like HTML', doc.body.length);
  }

  const bytes = doc.body.length;
  let analysis;
  try {
    analysis = await analyze(doc.body, doc.contentType, doc.finalUrl);
  } catch {
    // Only a crashed parse worker gets here: the page is not at fault, so it is worth another try.
    return fail('PARSE_FAILED', 'the page could not be parsed', bytes, {});
  }
  return {
    summary: {
      url,
      finalUrl: doc.finalUrl,
      status: doc.status,
      ok: true,
      contentType: doc.mediaType ?? 'text/html',
      charset: analysis.charset,
      ...analysis.fields,
      bytes,
      durationMs: elapsed(),
      fetchedAt,
      contentHash: analysis.contentHash,
    },
    outlinks: () => resolveLinks(analysis.links, doc.finalUrl),
    retry: null,
  };
}

/** The HTML signatures of the WHATWG MIME-sniffing standard, for a response that names no type. */
const HTML_SIGNATURES = ['<!doctype html', '<html', '<head', '<script', '<iframe', '<h1', '<div', '<font', '<table', '<a', '<style', '<title', '<b', '<body', '<br', '<p', '<!--'];
function looksLikeHtml(body: Buffer): boolean {
  const start = body.subarray(0, 512).toString('latin1').replace(/^[\t\n\f\r ]+/, '').toLowerCase();
  return HTML_SIGNATURES.some((sig) => start.startsWith(sig) && (sig === '<!--' || /^[ >]/.test(start.slice(sig.length, sig.length + 1))));
}
