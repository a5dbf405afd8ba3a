// Invariant: every crawl recorded since listings exist has one listing item per listing it appears in (all crawls by
// the month it started in; its schedule's, when a schedule started it), written before the crawl item itself. A
// listing item whose crawl was never recorded (a submit that died in between) or has expired is skipped on reading.
// No partition grows without bound: all crawls are split by month, and a schedule's runs by schedule.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { decodeTime } from 'ulid';
import type { Crawl } from '../../core/model/crawl.js';
import { crawlOf } from './crawl-lifecycle.js';
import { decodeCursor, encodeCursor, type CursorKey } from './cursor.js';
import { crawlKey } from './keys.js';
import { batchGetEach, type StoreTable } from './requests.js';

const MONTH_PREFIX = 'CRAWLS#';
const SCHEDULE_PREFIX = 'SCHEDULE#';

/** The month listing of a time ("CRAWLS#2026-11"); crawl ids (ULIDs) sort by start within it. */
const monthPk = (at: string) => `${MONTH_PREFIX}${at.slice(0, 7)}`;
/**
 * A crawl's month: its id's time, not createdAt, which a retried scheduled submit sets again (a retry in the next
 * month would list the crawl twice).
 */
const crawlMonthPk = (crawlId: string) => monthPk(new Date(decodeTime(crawlId)).toISOString());
const schedulePk = (name: string) => `${SCHEDULE_PREFIX}${name}`;
const MONTH_PK = /^CRAWLS#\d{4}-\d{2}$/;
/** A listing item's sort key: a crawl id (a ULID). */
const CRAWL_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The listing items of a new crawl, written with its seeds (crawl-lifecycle.ts: createCrawl). */
export function listingItems(t: StoreTable, crawl: Crawl): Record<string, unknown>[] {
  const expiresAt = t.expiresAt();
  const items = [{ PK: crawlMonthPk(crawl.crawlId), SK: crawl.crawlId, type: 'listing', expiresAt }];
  if (crawl.source.kind === 'schedule') items.push({ PK: schedulePk(crawl.source.name), SK: crawl.crawlId, type: 'listing', expiresAt });
  return items;
}

export interface CrawlListing {
  items: Crawl[];
  cursor: string | null;
}

/** Crawl item attributes a listing shows, each aliased (DynamoDB reserves several of the names: status, total, name…). */
const SHOWN = ['crawlId', 'status', 'total', 'succeeded', 'failed', 'createdAt', 'completedAt', 'cancelledAt', 'options', 'source', 'name', 'webhook', 'skipped'];
const CRAWL_FIELDS = {
  ProjectionExpression: SHOWN.map((_, i) => `#a${i}`).join(', '),
  ExpressionAttributeNames: Object.fromEntries(SHOWN.map((name, i) => [`#a${i}`, name])),
};

/**
 * Crawls newest first, `limit` at most, from where `cursor` left off: a schedule's runs from its partition, else every
 * crawl month by month back to the oldest month the table's retention keeps.
 */
export async function listCrawls(t: StoreTable, query: { limit: number; cursor?: string | undefined; schedule?: string | undefined }, now = new Date()): Promise<CrawlListing> {
  // Items live as long as the table's retention (expiresAt is now + retention): no listing is older than that.
  const retentionMs = t.expiresAt() * 1000 - now.getTime();
  const oldestMonth = monthPk(new Date(now.getTime() - retentionMs).toISOString());
  const newestMonth = monthPk(now.toISOString());
  // A month listing's cursor names a month the table can hold: none walks years of empty months.
  const fits = ({ pk, sk }: CursorKey) =>
    CRAWL_ID.test(sk) && (query.schedule !== undefined ? pk === schedulePk(query.schedule) : MONTH_PK.test(pk) && pk >= oldestMonth && pk <= newestMonth);
  const start = query.cursor === undefined ? null : decodeCursor(query.cursor, fits);
  let pk = start?.pk ?? (query.schedule !== undefined ? schedulePk(query.schedule) : newestMonth);
  let after = start?.sk;
  const ids: string[] = [];
  for (;;) {
    const out = await t.db.send(
      new QueryCommand({
        TableName: t.name,
        KeyConditionExpression: after !== undefined ? 'PK = :pk AND SK < :after' : 'PK = :pk',
        ExpressionAttributeValues: { ':pk': pk, ...(after !== undefined ? { ':after': after } : {}) },
        ScanIndexForward: false,
        Limit: query.limit - ids.length,
        ProjectionExpression: 'SK',
      }),
    );
    for (const item of out.Items ?? []) ids.push(String(item['SK']));
    // Full: the next page goes on after the last id (an empty one at worst, when this was the very last).
    if (ids.length >= query.limit) return { items: await crawlsOf(t, ids), cursor: encodeCursor({ pk, sk: ids.at(-1)! }) };
    if (out.LastEvaluatedKey) {
      after = String(out.LastEvaluatedKey['SK']);
      continue;
    }
    // This partition is done: a schedule's listing ends; the months go on back to the oldest the table keeps.
    if (!pk.startsWith(MONTH_PREFIX) || pk <= oldestMonth) return { items: await crawlsOf(t, ids), cursor: null };
    pk = previousMonth(pk);
    after = undefined;
  }
}

/** The crawls the ids name, in the ids' order; those no longer (or never) recorded are left out. */
async function crawlsOf(t: StoreTable, ids: readonly string[]): Promise<Crawl[]> {
  const byId = new Map<string, Crawl>();
  await batchGetEach(t, ids.map(crawlKey), CRAWL_FIELDS, (item) => {
    const crawl = crawlOf(item);
    byId.set(crawl.crawlId, crawl);
  });
  return ids.flatMap((id) => byId.get(id) ?? []);
}

function previousMonth(pk: string): string {
  const [year, month] = pk.slice(MONTH_PREFIX.length).split('-').map(Number) as [number, number];
  const date = new Date(Date.UTC(year, month - 2, 1));
  return monthPk(date.toISOString());
}
