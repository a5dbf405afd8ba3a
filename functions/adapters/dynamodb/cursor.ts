// Invariant: a page-list cursor is opaque to clients and only one this API returned decodes (to a PAGE# key of the
// crawl being listed); anything else is INVALID_CURSOR, a 400, never a 500 or a read of other items.
import { invalid } from '../../core/model/errors.js';
import { isPageSk } from './keys.js';

/** The last sort key of a page of results, versioned, base64url. */
export function encodeCursor(sk: string): string {
  return Buffer.from(JSON.stringify({ v: 1, sk })).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const invalidCursor = () => invalid('INVALID_CURSOR', 'cursor is not one this API returned');
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const sk = (parsed as { sk?: unknown })?.sk;
  if ((parsed as { v?: unknown })?.v !== 1 || typeof sk !== 'string' || !isPageSk(sk)) throw invalidCursor();
  return sk;
}
