import { MAX_URL_LENGTH } from './limits.js';

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Validates and normalizes one URL as the crawler will queue it: absolute http(s), at most 2,048 characters, fragment
 * removed, and serialized by the WHATWG URL parser (lower-case host, default port dropped, path and query
 * percent-encoded), so that two spellings of one URL are one URL.
 */
export function normalizeUrl(input: unknown): UrlCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'not a string' };
  const trimmed = input.trim();
  if (trimmed.length === 0) return { ok: false, reason: 'empty' };
  if (trimmed.length > MAX_URL_LENGTH) return { ok: false, reason: `longer than ${MAX_URL_LENGTH} characters` };
  const url = URL.parse(trimmed);
  if (url === null) return { ok: false, reason: 'not an absolute URL' };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `scheme ${url.protocol.slice(0, -1)} is not http or https` };
  }
  if (url.hostname === '') return { ok: false, reason: 'no host' };
  url.hash = '';
  const href = url.href;
  if (href.length > MAX_URL_LENGTH) return { ok: false, reason: `longer than ${MAX_URL_LENGTH} characters once normalized` };
  return { ok: true, url: href };
}

export interface PartitionedUrls {
  accepted: string[];
  rejected: { url: string; reason: string }[];
}

/** Splits a request's URLs into accepted (normalized, first occurrence kept, order kept) and rejected with reasons. */
export function partitionUrls(inputs: readonly unknown[]): PartitionedUrls {
  const seen = new Set<string>();
  const accepted: string[] = [];
  const rejected: PartitionedUrls['rejected'] = [];
  for (const input of inputs) {
    const check = normalizeUrl(input);
    const shown = typeof input === 'string' ? input : JSON.stringify(input) ?? String(input);
    if (!check.ok) rejected.push({ url: shown, reason: check.reason });
    else if (seen.has(check.url)) rejected.push({ url: shown, reason: 'duplicate within the request' });
    else {
      seen.add(check.url);
      accepted.push(check.url);
    }
  }
  return { accepted, rejected };
}

/** Query parameters whose values are credentials often enough that logs must not carry them. */
const SECRET_PARAM = /pass|secret|token|key|sig|auth|session|credential|code/i;

/**
 * For logs: a URL without userinfo, and without the values of query parameters named like credentials
 * (`?token=`, `X-Amz-Signature=`, `api_key=`…), so a secret in a URL never reaches a log line.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return '[unparseable URL]';
  const u = new URL(url);
  if (u.username || u.password) {
    u.username = 'redacted';
    u.password = '';
  }
  for (const name of new Set(u.searchParams.keys())) if (SECRET_PARAM.test(name)) u.searchParams.set(name, 'redacted');
  return u.href;
}
