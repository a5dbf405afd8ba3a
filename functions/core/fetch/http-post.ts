import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { PUBLIC_INTERNET, type NetworkAccess } from './address-guard.js';
import { DEFAULT_FETCH_LIMITS } from './fetch-limits.js';
import { agentsFor, checkHop, FetchError, toFetchError, type Agents } from './http-client.js';
import { DEFAULT_USER_AGENT } from './user-agent.js';

/** The limits of one guarded POST. */
export interface PostLimits {
  /** Deadline for the whole exchange: connect, send, the response's headers and the (capped) read of its body. */
  timeoutMs: number;
  /** Deadline for one TCP (and TLS) connection to be set up. */
  connectTimeoutMs: number;
  /** Lifts the address guard (loopback and private addresses), as for page fetches. */
  allowPrivateNetwork: boolean;
  userAgent?: string;
}

export interface PostResponse {
  status: number;
  /** The Location header of a redirect, which is never followed; otherwise null. */
  location: string | null;
}

/** Response bodies are read only so the connection can be reused; past this much it is closed instead. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * One POST through the same address guard as page fetches: the URL's scheme, port and IP literal are checked before
 * anything is sent, and a host name's addresses by the guarded agents' connect lookup. Redirects are not followed: a
 * 3xx is returned like any other status. Failures throw FetchErrors with the page fetches' codes (BLOCKED_ADDRESS,
 * TIMEOUT, CONNECTION_REFUSED…); a URL that does not parse is INVALID_URL.
 */
export async function postGuarded(
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  limits: PostLimits,
  network: NetworkAccess = PUBLIC_INTERNET,
): Promise<PostResponse> {
  const target = URL.parse(url);
  if (target === null) throw new FetchError('INVALID_URL', 'not an absolute URL', url);
  checkHop(target, limits, network);
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: IncomingMessage;
  try {
    response = await post(target, body, { ...headers, 'user-agent': limits.userAgent ?? DEFAULT_USER_AGENT }, limits, agentsFor(network, limits), signal);
  } catch (err) {
    if (signal.aborted) throw new FetchError('TIMEOUT', `no response within ${limits.timeoutMs} ms`, url, null, true);
    throw toFetchError(err, url, { ...DEFAULT_FETCH_LIMITS, ...limits, headersTimeoutMs: limits.timeoutMs });
  }
  const status = response.statusCode ?? 0;
  const location = response.headers['location'] ?? null;
  // The status is the answer; the body is drained within what is left of the deadline, or dropped with its connection.
  const stopReading = () => response.destroy();
  signal.addEventListener('abort', stopReading, { once: true });
  await drain(response);
  signal.removeEventListener('abort', stopReading);
  return { status, location };
}

/**
 * Sends the request and resolves with the response once its headers are in. A request that fails on a reused
 * keep-alive socket before any response (the server closed it as we sent) is sent once more on a fresh one: the
 * receiver saw nothing, and would deduplicate by the delivery id if it had.
 */
function post(
  target: URL,
  body: string,
  headers: Record<string, string>,
  limits: PostLimits,
  agents: Agents,
  signal: AbortSignal,
  retriedStale = false,
): Promise<IncomingMessage> {
  const https = target.protocol === 'https:';
  return new Promise<IncomingMessage>((resolve, reject) => {
    let connectTimer: NodeJS.Timeout | undefined;
    const req = (https ? httpsRequest : httpRequest)(target, {
      method: 'POST',
      agent: https ? agents.https : agents.http,
      signal,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    req.on('socket', (socket: Socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => req.destroy(Object.assign(new Error('CONNECT_TIMEOUT'), { code: 'CONNECT_TIMEOUT' })), limits.connectTimeoutMs);
      socket.once(https ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      resolve(res);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retriedStale && !signal.aborted) {
        resolve(post(target, body, headers, limits, agents, signal, true));
      } else reject(err);
    });
    req.end(body);
  });
}

/** Reads a response body to its end, or up to the cap and then closes it; errors only end the read. */
async function drain(response: IncomingMessage): Promise<void> {
  let size = 0;
  try {
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > MAX_RESPONSE_BYTES) break;
    }
  } catch {
    // The status is already known: a body cut short changes nothing.
  } finally {
    if (!response.readableEnded) response.destroy();
  }
}
