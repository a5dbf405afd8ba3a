import { performance } from 'node:perf_hooks';
import { PUBLIC_INTERNET, type NetworkAccess } from '../fetch/address-guard.js';
import { analyzeHere, type Analyze } from '../parse/analyze-body.js';
import { FetchError, fetchDocument } from '../fetch/http-client.js';
import { resolveLinks } from '../parse/links.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../fetch/fetch-limits.js';
import { MAX_TEXT_FIELD_CHARS } from '../model/limits.js';
import { failedSummary, type Summary } from '../model/summary.js';
import { isTransientStatus, parseRetryAfter } from '../fetch/transient-failure.js';

export interface SummarizedUrl {
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

/**
 * One URL's whole path to its Summary: fetch (fetch/), decode and parse (parse/), then the Summary's fields. The
 * consumer Lambda and `crawler fetch` both call this, so a page comes out the same whichever ran it. It never throws for anything the page or the network did:
 * those end in a Summary with `ok: false` and an error code.
 */
export async function summarizeUrl(
  url: string,
  limits: FetchLimits = DEFAULT_FETCH_LIMITS,
  network: NetworkAccess = PUBLIC_INTERNET,
  analyze: Analyze = analyzeHere,
): Promise<SummarizedUrl> {
  const result = await fetchAndAnalyze(url, limits, network, analyze);
  return { ...result, summary: capTextFields(result.summary) };
}

const TEXT_FIELDS = ['title', 'lang', 'description', 'canonical', 'finalUrl'] as const;

function capTextFields(summary: Summary): Summary {
  const capped = { ...summary };
  for (const field of TEXT_FIELDS) {
    const value = capped[field];
    if (typeof value === 'string' && value.length > MAX_TEXT_FIELD_CHARS) capped[field] = value.slice(0, MAX_TEXT_FIELD_CHARS);
  }
  return capped;
}

async function fetchAndAnalyze(url: string, limits: FetchLimits, network: NetworkAccess, analyze: Analyze): Promise<SummarizedUrl> {
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
  const fail = (code: string, message: string, bytes = 0, retry: SummarizedUrl['retry'] = null): SummarizedUrl => ({
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
      textHash: analysis.textHash,
    },
    outlinks: () => resolveLinks(analysis.pageLinks, doc.finalUrl),
    retry: null,
  };
}

/** The HTML signatures of the WHATWG MIME-sniffing standard, for a response that names no type. */
const HTML_SIGNATURES = ['<!doctype html', '<html', '<head', '<script', '<iframe', '<h1', '<div', '<font', '<table', '<a', '<style', '<title', '<b', '<body', '<br', '<p', '<!--'];
function looksLikeHtml(body: Buffer): boolean {
  const start = body.subarray(0, 512).toString('latin1').replace(/^[\t\n\f\r ]+/, '').toLowerCase();
  return HTML_SIGNATURES.some((sig) => start.startsWith(sig) && (sig === '<!--' || /^[ >]/.test(start.slice(sig.length, sig.length + 1))));
}
