import { PUBLIC_INTERNET, type NetworkAccess } from './address-guard.js';
import type { FetchLimits } from './fetch-limits.js';
import { FetchError, fetchStream } from './http-client.js';
import { ROBOTS_TXT_PARSE_LIMIT_BYTES } from './robots-rules.js';

/** What the fetch of /robots.txt came to, with the reason when it failed. */
export type RobotsFetchOutcome =
  | { kind: 'response'; status: number; body: Uint8Array; finalUrl: string }
  | { kind: 'failed'; code: string; message: string; transient: boolean; finalUrl: string };

/** RFC 9309 §2.3.1.2: at least five consecutive redirects are followed. */
export const ROBOTS_TXT_MAX_REDIRECTS = 5;

/**
 * GET <origin>/robots.txt with the guarded client that fetches pages: the same address guard on every hop, the same
 * deadlines and User-Agent, up to 5 redirects whatever the deployment's maxRedirects. The body is read up to one byte
 * past the parse limit (500 KiB) and the rest left unread: a 100 MB file costs 500 KiB, and the parser knows it was
 * cut. Never throws for what the server or the network did: that is a 'failed' outcome with the fetch's error code.
 */
export async function fetchRobotsTxt(origin: string, limits: FetchLimits, network: NetworkAccess = PUBLIC_INTERNET): Promise<RobotsFetchOutcome> {
  const url = `${origin}/robots.txt`;
  try {
    const response = await fetchStream(url, { ...limits, maxRedirects: ROBOTS_TXT_MAX_REDIRECTS }, network, 'text/plain,*/*;q=0.1');
    const cap = ROBOTS_TXT_PARSE_LIMIT_BYTES + 1;
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        const room = cap - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= cap) break;
      }
    } finally {
      response.close();
    }
    return { kind: 'response', status: response.status, body: Buffer.concat(chunks, size), finalUrl: response.finalUrl };
  } catch (err) {
    const e = err instanceof FetchError ? err : new FetchError('FETCH_FAILED', 'the fetch failed', url);
    return { kind: 'failed', code: e.code, message: e.message, transient: e.transient, finalUrl: e.finalUrl };
  }
}
