// Invariant: a listing's cursor is opaque to clients and only one this API returned for the same listing decodes (to a
// key that listing holds: a page of the crawl being listed, a crawl of the month or schedule being listed); anything
// else, another listing's cursor included, is INVALID_CURSOR, a 400, never a 500 or a read of other items.
import { invalid } from '../../core/model/errors.js';

/** Where a listing left off: the table key of the last item it went past. */
export interface CursorKey {
  pk: string;
  sk: string;
}

/** The key a listing left off at, versioned, base64url: its partition says which listing it belongs to. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify({ v: 1, pk: key.pk, sk: key.sk })).toString('base64url');
}

/**
 * The key of a cursor this API returned, if `fits` says the listing being read holds it; else INVALID_CURSOR.
 * `unnamedPk`: the listing's own partition, for a cursor issued before cursors named theirs (pages cursors then carried
 * the sort key alone), so a client paging through a deploy goes on where it was.
 */
export function decodeCursor(cursor: string, fits: (key: CursorKey) => boolean, unnamedPk?: string): CursorKey {
  const invalidCursor = () => invalid('INVALID_CURSOR', 'cursor is not one this API returned for this listing');
  if (cursor.length > 300 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let parsed: { v?: unknown; pk?: unknown; sk?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    throw invalidCursor();
  }
  const { v, sk } = parsed ?? {};
  const pk = parsed?.pk === undefined ? unnamedPk : parsed.pk;
  if (v !== 1 || typeof pk !== 'string' || typeof sk !== 'string' || !fits({ pk, sk })) throw invalidCursor();
  return { pk, sk };
}
