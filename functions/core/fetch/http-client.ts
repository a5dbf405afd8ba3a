import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import {
  checkAddress,
  connectLookup,
  literalAddress,
  PUBLIC_INTERNET,
  type NetworkAccess,
} from './address-guard.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits, type RequestTurn } from './fetch-limits.js';
import { DEFAULT_USER_AGENT } from './user-agent.js';

export interface FetchedDocument {
  finalUrl: string;
  status: number;
  /** The raw Content-Type header, or null. */
  contentType: string | null;
  /** Its essence, lower case (`text/html`), or null. */
  mediaType: string | null;
  /** The decoded body; null when it was not read (not a 2xx, or not a type we parse). */
  body: Buffer | null;
  /** The Retry-After header of the final response, or null. */
  retryAfter: string | null;
}

/**
 * A fetch that ended without a usable response. `code` is the contract's error code; `transient` says whether the
 * same fetch may well succeed later (timeouts, resets, DNS server failures), which makes the consumer retry it.
 */
export class FetchError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly finalUrl: string,
    readonly status: number | null = null,
    readonly transient = false,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * The Fetch standard's "bad ports", which browsers refuse: a crawler must not be a way to talk SMTP, IRC or the
 * like to a server that happens to be public.
 */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

// Module-scope agents: connections are reused per origin across pages and, in Lambda, across invocations. One pair
// per (network, guard); in production that is one pair. Node's own http client: as little CPU per page as undici's
// request() (measured), and nothing to bundle.
export interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
}
const agents = new WeakMap<NetworkAccess, Map<boolean, Agents>>();
export function agentsFor(network: NetworkAccess, limits: Pick<FetchLimits, 'allowPrivateNetwork'>): Agents {
  let byGuard = agents.get(network);
  if (!byGuard) agents.set(network, (byGuard = new Map()));
  const guard = !limits.allowPrivateNetwork;
  let pair = byGuard.get(guard);
  if (!pair) {
    // Sockets per host are bounded by the pages in flight (consumer.pageConcurrency ≤ 256), not by the agent.
    const options = { keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' as const, lookup: connectLookup(network, guard) };
    pair = { http: new HttpAgent(options), https: new HttpsAgent(options) };
    byGuard.set(guard, pair);
  }
  return pair;
}

class DeadlineError extends Error {
  constructor(readonly code: 'CONNECT_TIMEOUT' | 'HEADERS_TIMEOUT') {
    super(code);
  }
}

/** Times one request's turn is moved (RequestTurn.late) before it fails LATE_START: a process this busy gives the turn up. */
const MAX_TURN_MOVES = 2;

/**
 * One GET, resolved with the response once its headers are in. Connect and header deadlines are timers of our own;
 * the total deadline is the signal. A request that fails on a reused keep-alive socket before any response (the server
 * closed it as we sent) is tried once more on a fresh one: a GET is safe to repeat.
 */
function get(target: URL, limits: FetchLimits, pair: Agents, signal: AbortSignal, headers: Record<string, string>, retriedStale = false): Promise<IncomingMessage> {
  const https = target.protocol === 'https:';
  return new Promise<IncomingMessage>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    const clear = () => timers.forEach(clearTimeout);
    const req = (https ? httpsRequest : httpRequest)(target, {
      method: 'GET',
      agent: https ? pair.https : pair.http,
      signal,
      headers: { ...headers, 'user-agent': limits.userAgent ?? DEFAULT_USER_AGENT },
    });
    const fail = (err: Error) => {
      clear();
      req.destroy(err);
    };
    const awaitHeaders = () => timers.push(setTimeout(() => fail(new DeadlineError('HEADERS_TIMEOUT')), limits.headersTimeoutMs));
    const lateError = () => new FetchError('LATE_START', "the host's turn passed before the request could be sent", target.href, null, true);
    const turn = limits.turn;
    /**
     * Paced (limits.turn): the connection is opened at once (a pooled one, or a new one's lookup and handshake), and
     * the request's bytes leave at the turn, not before; a connection ready only after the turn's slack asks for the
     * turn to be moved (turn.late), else the request is not sent at all.
     */
    const sendInTurn = async (at = turn!.at, moves = 0): Promise<void> => {
      if (Date.now() > at + turn!.slackMs) {
        // Missed (a connection ready late, a timer that fired late on a busy process): the turn moves to now if no
        // turn was planned after it, which costs one write, where giving it up would cost the host a whole interval.
        const moved = turn!.late && moves < MAX_TURN_MOVES ? await turn!.late(Date.now()).catch(() => null) : null;
        if (moved === null) return fail(lateError());
        return sendInTurn(moved, moves + 1);
      }
      const send = () => {
        if (Date.now() > at + turn!.slackMs) return void sendInTurn(at, moves);
        awaitHeaders();
        req.end();
      };
      const wait = at - Date.now();
      if (wait > 0) timers.push(setTimeout(send, wait));
      else send();
    };
    req.on('socket', (socket: Socket) => {
      if (!socket.connecting) return turn ? void sendInTurn() : awaitHeaders(); // a reused keep-alive socket
      timers.push(setTimeout(() => fail(new DeadlineError('CONNECT_TIMEOUT')), limits.connectTimeoutMs));
      socket.once(https ? 'secureConnect' : 'connect', () => {
        clear();
        if (turn) void sendInTurn();
        else awaitHeaders();
      });
    });
    req.on('response', (res) => {
      clear();
      resolve(res);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clear();
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retriedStale && !signal.aborted) {
        resolve(get(target, limits, pair, signal, headers, true));
      } else reject(err);
    });
    // Unpaced, the request is ended at once and leaves as soon as it has a connection; paced, sendInTurn ends it.
    if (!turn) req.end();
  });
}

/**
 * The whole fetch's deadline: timeoutMs from when the request is sent (a paced request waits for its turn first),
 * pushed back by the time each redirect's admission and turn take (`extend`).
 */
class Deadline {
  private readonly controller = new AbortController();
  private due: number;
  private timer: NodeJS.Timeout;

  constructor(limits: FetchLimits) {
    this.due = Date.now() + limits.timeoutMs + Math.max(0, (limits.turn?.at ?? 0) - Date.now());
    this.timer = this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  extend(ms: number): void {
    if (ms <= 0 || this.controller.signal.aborted) return;
    clearTimeout(this.timer);
    this.due += ms;
    this.timer = this.arm();
  }

  private arm(): NodeJS.Timeout {
    const abort = () => this.controller.abort(new DOMException('the fetch took longer than its deadline', 'TimeoutError'));
    // Unref'd as AbortSignal.timeout's is: a pending deadline does not keep a process alive.
    return setTimeout(abort, Math.max(0, this.due - Date.now())).unref();
  }
}

/** Every request's headers but the User-Agent, which is the deployment's (limits.userAgent, set in get()). */
const REQUEST_HEADERS = {
  accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
  'accept-encoding': 'gzip, deflate, br',
};

export function mediaTypeOf(contentType: string | null): string | null {
  if (!contentType) return null;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  return essence === '' ? null : essence;
}

/**
 * Refuses a hop before any packet is sent: wrong scheme, a bad port, or an IP-literal host that is not public (no
 * lookup happens for a literal). Host names, `localhost` included, are judged by the agent's connect lookup.
 */
export function checkHop(target: URL, limits: Pick<FetchLimits, 'allowPrivateNetwork'>, network: NetworkAccess): void {
  const url = target.href;
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new FetchError('UNSUPPORTED_SCHEME', `cannot fetch ${target.protocol} URLs`, url);
  }
  if (target.port !== '' && BAD_PORTS.has(Number(target.port))) {
    throw new FetchError('BLOCKED_PORT', `port ${target.port} is refused, as browsers refuse it`, url);
  }
  if (limits.allowPrivateNetwork) return;
  const literal = literalAddress(target.hostname);
  if (literal === null) return;
  try {
    checkAddress(network, literal);
  } catch (err) {
    throw new FetchError('BLOCKED_ADDRESS', (err as Error).message, url);
  }
}

export async function fetchDocument(
  url: string,
  limits: FetchLimits = DEFAULT_FETCH_LIMITS,
  network: NetworkAccess = PUBLIC_INTERNET,
): Promise<FetchedDocument> {
  const clock = new Deadline(limits);
  const deadline = clock.signal;
  const { finalUrl: current, status: statusCode, response: body } = await openResponse(url, limits, network, clock, REQUEST_HEADERS);
  const { headers } = body;
  const contentType = headerValue(headers['content-type']);
  const mediaType = mediaTypeOf(contentType);
  const retryAfter = headerValue(headers['retry-after']);
  const wanted = statusCode >= 200 && statusCode < 300 && (mediaType === null || HTML_TYPES.has(mediaType));
  if (!wanted) {
    body.resume();
    return { finalUrl: current, status: statusCode, contentType, mediaType, body: null, retryAfter };
  }
  try {
    const declared = Number(headerValue(headers['content-length']) ?? NaN);
    const encoding = (headerValue(headers['content-encoding']) ?? 'identity').trim().toLowerCase();
    if (encoding === 'identity' && declared > limits.maxBodyBytes) {
      body.destroy();
      throw new FetchError('TOO_LARGE', `body of ${declared} bytes is over the ${limits.maxBodyBytes}-byte cap`, current, statusCode);
    }
    const bytes = await readCapped(body, encoding, limits.maxBodyBytes, current, statusCode, encoding === 'identity' && Number.isSafeInteger(declared) ? declared : null);
    return { finalUrl: current, status: statusCode, contentType, mediaType, body: bytes, retryAfter };
  } catch (err) {
    // The deadline destroys the socket, which the body reports as a reset: name the real cause.
    throw toFetchError(deadline.aborted && !(err instanceof FetchError) ? deadline.reason : err, current, limits, statusCode);
  }
}

/** A response whose body is read as it arrives (a sitemap): the caller reads `body` to its end or stops early. */
export interface StreamedResponse {
  finalUrl: string;
  status: number;
  contentType: string | null;
  /** The body after content decoding (gzip, deflate, br), in chunks; empty when the status is not 2xx. */
  body: AsyncIterable<Uint8Array>;
  /** Stops reading (closes the connection); harmless after the end. */
  close(): void;
  retryAfter: string | null;
}

/**
 * One GET through the same guard, limits, redirects and User-Agent as pages, with the body left to the caller to read
 * as a stream: for documents too large to hold (a 50 MB sitemap). `limits.timeoutMs` is the deadline for the whole
 * fetch, body included; errors while reading are FetchErrors too. The body is not capped here: the reader caps it.
 */
export async function fetchStream(
  url: string,
  limits: FetchLimits = DEFAULT_FETCH_LIMITS,
  network: NetworkAccess = PUBLIC_INTERNET,
  accept = '*/*',
): Promise<StreamedResponse> {
  const clock = new Deadline(limits);
  const deadline = clock.signal;
  const { finalUrl, status, response } = await openResponse(url, limits, network, clock, { ...REQUEST_HEADERS, accept });
  const contentType = headerValue(response.headers['content-type']);
  const retryAfter = headerValue(response.headers['retry-after']);
  const close = () => response.destroy();
  if (status < 200 || status >= 300) {
    response.resume();
    return { finalUrl, status, contentType, retryAfter, close, body: (async function* () {})() };
  }
  const encoding = (headerValue(response.headers['content-encoding']) ?? 'identity').trim().toLowerCase();
  const inflate = decompressor(encoding);
  const source: Readable = inflate ? response.pipe(inflate) : response;
  if (inflate) response.on('error', (err) => inflate.destroy(err));
  const body = (async function* () {
    try {
      for await (const chunk of source) yield chunk as Buffer;
    } catch (err) {
      throw toFetchError(deadline.aborted && !(err instanceof FetchError) ? deadline.reason : err, finalUrl, limits, status);
    } finally {
      if (!response.readableEnded) response.destroy();
      inflate?.destroy();
    }
  })();
  return { finalUrl, status, contentType, retryAfter, close, body };
}

/**
 * Follows redirects until a response that is not one; its body is still unread. Each hop is checked by the guard,
 * and a redirect's hop is admitted (limits.admitRedirect: robots.txt, its host's turn) before its request is sent.
 */
async function openResponse(
  url: string,
  limits: FetchLimits,
  network: NetworkAccess,
  clock: Deadline,
  headers: Record<string, string>,
): Promise<{ finalUrl: string; status: number; response: IncomingMessage }> {
  const pair = agentsFor(network, limits);
  const deadline = clock.signal;
  const visited = new Set<string>();
  let current = url;
  let turn = limits.turn;
  for (let hop = 0; ; hop++) {
    visited.add(current);
    const target = new URL(current);
    checkHop(target, limits, network);
    let response: IncomingMessage;
    try {
      response = await get(target, { ...limits, turn }, pair, deadline, headers);
    } catch (err) {
      throw toFetchError(deadline.aborted ? deadline.reason : err, current, limits);
    }

    const statusCode = response.statusCode ?? 0;
    const location = headerValue(response.headers['location']);
    if (REDIRECT_STATUSES.has(statusCode) && location !== null) {
      response.resume();
      const next = URL.parse(location, current);
      if (next === null) throw new FetchError('BAD_REDIRECT', `redirect to an invalid URL`, current, statusCode);
      next.hash = '';
      if (hop + 1 > limits.maxRedirects || visited.has(next.href)) {
        const why = visited.has(next.href) ? 'a redirect loop' : `more than ${limits.maxRedirects} redirects`;
        throw new FetchError('TOO_MANY_REDIRECTS', `stopped after ${why}`, current, statusCode);
      }
      current = next.href;
      turn = await admitHop(current, limits, network, clock);
      continue;
    }
    return { finalUrl: current, status: statusCode, response };
  }
}

/** A redirect's hop admitted by limits.admitRedirect (none: sent at once); the deadline waits while it is. */
async function admitHop(url: string, limits: FetchLimits, network: NetworkAccess, clock: Deadline): Promise<RequestTurn | undefined> {
  if (!limits.admitRedirect) return undefined;
  // A hop the guard refuses takes no turn on its host.
  checkHop(new URL(url), limits, network);
  const asked = Date.now();
  const turn = await limits.admitRedirect(url);
  clock.extend(Date.now() - asked + Math.max(0, (turn?.at ?? 0) - Date.now()));
  return turn;
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

/**
 * The body, after content decoding, read to its end within the cap. When its length is known beforehand (an identity
 * body's Content-Length), it is read into one buffer of that size, each chunk copied in as it arrives and let go: the
 * body is held once, not as its chunks and then their concatenation, and in a buffer of its own (Node pools smaller
 * allocations in shared 64 KB slabs, where one page's bytes would keep others' alive), so it can be freed whole.
 */
async function readCapped(body: Readable, encoding: string, cap: number, url: string, status: number, declared: number | null = null): Promise<Buffer> {
  const inflate = decompressor(encoding);
  const source: Readable = inflate ? body.pipe(inflate) : body;
  if (inflate) body.on('error', (err) => inflate.destroy(err));
  const whole = declared !== null && declared <= cap ? Buffer.allocUnsafeSlow(declared) : null;
  const chunks: Buffer[] = [];
  let size = 0;
  let filled = 0;
  try {
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      if (size + bytes.length > cap) {
        size += bytes.length;
        throw new FetchError('TOO_LARGE', `body is over the ${cap}-byte cap`, url, status);
      }
      if (whole && chunks.length === 0 && filled + bytes.length <= whole.length) filled += bytes.copy(whole, filled);
      else chunks.push(bytes);
      size += bytes.length;
    }
  } finally {
    if (size > cap || !body.readableEnded) body.destroy();
  }
  if (!whole) return Buffer.concat(chunks, size);
  // Other than declared: more (in theory only, as HTTP's framing stops at Content-Length), or less.
  if (chunks.length > 0) return Buffer.concat([whole.subarray(0, filled), ...chunks], size);
  return filled === whole.length ? whole : whole.subarray(0, filled);
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

/** Maps whatever the network stack threw to the contract's error codes, and says which are worth retrying. */
export function toFetchError(err: unknown, url: string, limits: FetchLimits, status: number | null = null): FetchError {
  if (err instanceof FetchError) return err;
  const name = (err as { name?: string })?.name;
  const code = errorCode(err);
  const make = (c: string, m: string, transient = false) => new FetchError(c, m, url, status, transient);
  if (code === 'BLOCKED_ADDRESS') return make('BLOCKED_ADDRESS', (err as Error).message);
  if (code === 'CONNECT_TIMEOUT') return make('TIMEOUT', `could not connect within ${limits.connectTimeoutMs} ms`, true);
  if (code === 'HEADERS_TIMEOUT') return make('TIMEOUT', `no response headers within ${limits.headersTimeoutMs} ms`, true);
  if (name === 'TimeoutError' || name === 'AbortError' || code?.endsWith('_TIMEOUT') || code === 'ETIMEDOUT') {
    return make('TIMEOUT', `the fetch did not finish within its ${limits.timeoutMs} ms deadline`, true);
  }
  const host = new URL(url).hostname;
  // NXDOMAIN / no records are answers; EAI_AGAIN (SERVFAIL, resolver timeout) and EAI_FAIL are the resolver failing.
  if (code === 'ENOTFOUND' || code === 'EAI_NODATA' || code === 'ENODATA') return make('DNS', `${host} does not resolve`);
  if (code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'ESERVFAIL' || code === 'ETIMEOUT') {
    return make('DNS', `the DNS lookup of ${host} failed`, true);
  }
  if (code === 'ECONNREFUSED') return make('CONNECTION_REFUSED', 'the server refused the connection', true);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') {
    return make('CONNECTION_RESET', 'the connection was closed before the response was complete', true);
  }
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code?.startsWith('ERR__ERROR_FORMAT') || code === 'ERR_BROTLI_DECOMPRESSION_FAILED') {
    return make('BAD_ENCODING', 'the body could not be decompressed');
  }
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code?.startsWith('ERR_SSL')) {
    return make('TLS', 'the TLS handshake failed');
  }
  if (code?.startsWith('HPE_')) {
    return make('BAD_RESPONSE', 'the server sent a malformed response');
  }
  return make('FETCH_FAILED', 'the fetch failed');
}
