import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import { assertPublicAddress, guardedLookup, literalAddress } from './address-guard.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from './fetch-limits.js';

export interface FetchedDocument {
  finalUrl: string;
  status: number;
  /** The raw Content-Type header, or null. */
  contentType: string | null;
  /** Its essence, lower case (`text/html`), or null. */
  mediaType: string | null;
  /** The decoded body; null when it was not read (not a 2xx, or not a type we parse). */
  body: Buffer | null;
}

/** A fetch that ended without a usable response. `code` is the contract's error code. */
export class FetchError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly finalUrl: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

const USER_AGENT = 'serverless-crawler/0.1 (+https://github.com/serverless-crawler/serverless-crawler)';
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// Module-scope agents: connections are reused per origin across pages and, in Lambda, across invocations.
const agentOptions = { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 10_000, connections: 32, pipelining: 1 };
let guardedAgent: Dispatcher | undefined;
let openAgent: Dispatcher | undefined;
function agentFor(allowPrivateNetwork: boolean): Dispatcher {
  if (allowPrivateNetwork) return (openAgent ??= new Agent({ ...agentOptions, connect: { timeout: 5_000 } }));
  return (guardedAgent ??= new Agent({ ...agentOptions, connect: { timeout: 5_000, lookup: guardedLookup } }));
}

export function mediaTypeOf(contentType: string | null): string | null {
  if (!contentType) return null;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  return essence === '' ? null : essence;
}

export async function fetchDocument(url: string, limits: FetchLimits = DEFAULT_FETCH_LIMITS): Promise<FetchedDocument> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const dispatcher = agentFor(limits.allowPrivateNetwork);
  const visited = new Set<string>();
  let current = url;
  for (let hop = 0; ; hop++) {
    visited.add(current);
    const target = new URL(current);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new FetchError('UNSUPPORTED_SCHEME', `cannot fetch ${target.protocol} URLs`, current);
    }
    const literal = literalAddress(target.hostname);
    let response: Dispatcher.ResponseData;
    try {
      if (literal && !limits.allowPrivateNetwork) assertPublicAddress(literal);
      response = await request(target, {
        method: 'GET',
        dispatcher,
        signal: deadline,
        headersTimeout: limits.timeoutMs,
        bodyTimeout: limits.timeoutMs,
        headers: {
          'user-agent': USER_AGENT,
          accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
          'accept-encoding': 'gzip, deflate, br',
        },
      });
    } catch (err) {
      throw toFetchError(err, current);
    }

    const { statusCode, headers, body } = response;
    const location = headerValue(headers['location']);
    if (REDIRECT_STATUSES.has(statusCode) && location !== null) {
      body.dump().catch(() => undefined);
      if (!URL.canParse(location, current)) {
        throw new FetchError('BAD_REDIRECT', `redirect to an invalid URL`, current, statusCode);
      }
      const next = new URL(location, current);
      next.hash = '';
      if (hop + 1 > limits.maxRedirects || visited.has(next.href)) {
        const why = visited.has(next.href) ? 'a redirect loop' : `more than ${limits.maxRedirects} redirects`;
        throw new FetchError('TOO_MANY_REDIRECTS', `stopped after ${why}`, current, statusCode);
      }
      current = next.href;
      continue;
    }

    const contentType = headerValue(headers['content-type']);
    const mediaType = mediaTypeOf(contentType);
    const wanted = statusCode >= 200 && statusCode < 300 && (mediaType === null || HTML_TYPES.has(mediaType));
    if (!wanted) {
      body.dump().catch(() => undefined);
      return { finalUrl: current, status: statusCode, contentType, mediaType, body: null };
    }
    try {
      const declared = Number(headerValue(headers['content-length']) ?? NaN);
      const encoding = (headerValue(headers['content-encoding']) ?? 'identity').trim().toLowerCase();
      if (encoding === 'identity' && declared > limits.maxBodyBytes) {
        body.destroy();
        throw new FetchError('TOO_LARGE', `body of ${declared} bytes is over the ${limits.maxBodyBytes}-byte cap`, current, statusCode);
      }
      const bytes = await readCapped(body, encoding, limits.maxBodyBytes, current, statusCode);
      return { finalUrl: current, status: statusCode, contentType, mediaType, body: bytes };
    } catch (err) {
      throw toFetchError(err, current, statusCode);
    }
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function decompressor(encoding: string) {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return null;
  }
}

async function readCapped(body: Readable, encoding: string, cap: number, url: string, status: number): Promise<Buffer> {
  const inflate = decompressor(encoding);
  const source: Readable = inflate ? body.pipe(inflate) : body;
  if (inflate) body.on('error', (err) => inflate.destroy(err));
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length;
      if (size > cap) throw new FetchError('TOO_LARGE', `body is over the ${cap}-byte cap`, url, status);
      chunks.push(chunk as Buffer);
    }
  } finally {
    if (size > cap || !body.readableEnded) body.destroy();
  }
  return Buffer.concat(chunks, size);
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Maps whatever the network stack threw to the contract's error codes. */
export function toFetchError(err: unknown, url: string, status: number | null = null): FetchError {
  if (err instanceof FetchError) return err;
  const name = (err as { name?: string })?.name;
  const code = errorCode(err);
  const make = (c: string, m: string) => new FetchError(c, m, url, status);
  if (code === 'BLOCKED_ADDRESS') return make('BLOCKED_ADDRESS', (err as Error).message);
  if (name === 'TimeoutError' || name === 'AbortError' || code?.endsWith('_TIMEOUT') || code === 'ETIMEDOUT') {
    return make('TIMEOUT', 'the server did not answer in time');
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NODATA' || code === 'EAI_FAIL') {
    return make('DNS', `could not resolve ${new URL(url).hostname}`);
  }
  if (code === 'ECONNREFUSED') return make('CONNECTION_REFUSED', 'the server refused the connection');
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED') {
    return make('CONNECTION_RESET', 'the connection was closed before the response was complete');
  }
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR__ERROR_FORMAT_PADDING_1') {
    return make('BAD_ENCODING', 'the body could not be decompressed');
  }
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code?.startsWith('ERR_SSL')) {
    return make('TLS', 'the TLS handshake failed');
  }
  if (code?.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return make('BAD_RESPONSE', 'the server sent a malformed response');
  }
  return make('FETCH_FAILED', 'the fetch failed');
}
