// Invariant: reading summaries never touches a crawl's counts: a crawl's pages are listed one Query at a time under an
// opaque cursor, and a URL's latest summary only moves forward in fetchedAt, whatever order deliveries come in; it
// keeps the base it was compared with, so a redelivery of its page compares with the same earlier summary.
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PageList } from '../../core/model/ports.js';
import { toSummary, type Change, type Summary } from '../../core/model/summary.js';
import type { ChangeBase, LatestSummary } from '../../core/crawl/change.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { crawlPk, isPageSk, latestKey, PAGE_PREFIX } from './keys.js';
import { conditionHeld, type StoreTable, type TableRef } from './requests.js';

/** Queries one listing may take to fill its page when a filter (`change`) skips most items. */
const MAX_QUERIES_PER_LIST = 10;

export async function listPages(t: TableRef, crawlId: string, limit: number, cursor?: string, change?: Change): Promise<PageList> {
  const pk = crawlPk(crawlId);
  // A filter skips items but keeps their order: a cursor is a place among the crawl's pages, whatever the filter.
  let startSk = cursor === undefined ? undefined : decodeCursor(cursor, (key) => key.pk === pk && isPageSk(key.sk), pk).sk;
  const items: Summary[] = [];
  // A filter is applied after the Query's Limit: keep reading until the page is full, the crawl's pages end, or the
  // queries run out (the cursor then says where to go on).
  for (let queries = 0; queries < MAX_QUERIES_PER_LIST && items.length < limit; queries++) {
    const out = await t.db.send(
      new QueryCommand({
        TableName: t.name,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :page)',
        ExpressionAttributeValues: { ':pk': pk, ':page': PAGE_PREFIX, ...(change ? { ':change': change } : {}) },
        ...(change ? { FilterExpression: '#change = :change', ExpressionAttributeNames: { '#change': 'change' } } : {}),
        Limit: limit - items.length,
        ...(startSk ? { ExclusiveStartKey: { PK: pk, SK: startSk } } : {}),
      }),
    );
    items.push(...(out.Items ?? []).map(toSummary));
    const last = out.LastEvaluatedKey?.['SK'];
    startSk = typeof last === 'string' ? last : undefined;
    if (startSk === undefined) break;
  }
  return { items, cursor: startSk !== undefined ? encodeCursor({ pk, sk: startSk }) : null };
}

export async function getLatest(t: TableRef, url: string): Promise<Summary | null> {
  const out = await t.db.send(new GetCommand({ TableName: t.name, Key: latestKey(url) }));
  return out.Item ? toSummary(out.Item) : null;
}

/**
 * A URL's latest-summary item (latestKey) as what it holds: the summary, the crawl that recorded it and the base it was
 * compared with; none when there is no item.
 */
export function latestOf(item: Record<string, unknown> | undefined): LatestSummary | null {
  if (!item) return null;
  return { crawlId: String(item['crawlId']), summary: toSummary(item), base: (item['changeBase'] as ChangeBase | undefined) ?? null };
}

/**
 * Keeps the newest summary of a URL across crawls, with the base it was compared with; an older one than the stored
 * one is dropped.
 */
export async function putLatest(t: StoreTable, crawlId: string, summary: Summary, base: ChangeBase | null): Promise<void> {
  await conditionHeld(() =>
    t.db.send(
      new PutCommand({
        TableName: t.name,
        Item: { ...latestKey(summary.url), type: 'latest', ...summary, crawlId, changeBase: base, expiresAt: t.expiresAt() },
        // Out-of-order deliveries must not replace a newer summary with an older one.
        ConditionExpression: 'attribute_not_exists(PK) OR fetchedAt <= :fetchedAt',
        ExpressionAttributeValues: { ':fetchedAt': summary.fetchedAt },
      }),
    ),
  );
}
