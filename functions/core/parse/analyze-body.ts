import { createHash, webcrypto } from 'node:crypto';
import { decodeInPieces } from './decode.js';
import type { PageLinks } from './links.js';
import { parsePage } from './parse-page.js';
import type { PageFields } from '../model/summary.js';

/** What the engine learns from a fetched HTML body: its encoding, the Summary's page fields, its links, its hashes. */
export interface Analysis {
  charset: string;
  fields: PageFields;
  pageLinks: PageLinks;
  parser: 'stream' | 'tree';
  contentHash: string;
  /** The Summary's textHash, from the parse. */
  textHash: string;
}

/** Decode + parse + summary + hash of one body. The engine calls one of these; a ParsePool provides another. */
export type Analyze = (body: Buffer, contentType: string | null, documentUrl: string) => Promise<Analysis>;

/** Decode + parse + summary: what both ways of analyzing share; they differ only in how they hash. */
async function parseBody(body: Buffer, contentType: string | null, documentUrl: string) {
  const decoded = decodeInPieces(body, contentType);
  return { charset: decoded.charset, ...(await parsePage(decoded, documentUrl)) };
}

/** Bodies below this are hashed at once: a trip to the thread pool costs more than hashing them (~0.1 ms at 64 KB). */
const SYNC_HASH_BYTES = 64 * 1024;
const sha256Hex = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/** On this thread. A large body's hash runs on libuv's thread pool meanwhile, so it does not hold the event loop. */
export const analyzeHere: Analyze = async (body, contentType, documentUrl) => {
  const hashing =
    body.length < SYNC_HASH_BYTES ? sha256Hex(body) : webcrypto.subtle.digest('SHA-256', body).then((d) => Buffer.from(d).toString('hex'));
  const parsed = await parseBody(body, contentType, documentUrl);
  return { ...parsed, contentHash: await hashing };
};

/** On a worker thread, where blocking is fine: the hash synchronously, no hop to the thread pool. */
export const analyzeBlocking: Analyze = async (body, contentType, documentUrl) => {
  const contentHash = sha256Hex(body);
  return { ...(await parseBody(body, contentType, documentUrl)), contentHash };
};
