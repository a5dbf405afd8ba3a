import { createHmac, timingSafeEqual } from 'node:crypto';

/** Names the algorithm in the header, so receivers can tell it from a later one. */
const SIGNATURE_PREFIX = 'sha256=';

/** The `x-crawler-signature` value for a raw body: `sha256=` and the hex HMAC-SHA256 of the body keyed with the secret. */
export function signBody(secret: string, rawBody: string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex');
}

/**
 * Whether a signature header is the body's, for a receiver (and the tests). It compares in constant time, so timing
 * tells an attacker nothing about how much of a forged signature was right.
 */
export function verifySignature(secret: string, rawBody: string | Buffer, header: string | null | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(SIGNATURE_PREFIX + createHmac('sha256', secret).update(rawBody).digest('hex'), 'utf8');
  const given = Buffer.from(header, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
