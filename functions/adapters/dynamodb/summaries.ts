// Invariant: reading summaries never touches a crawl's counts: a crawl's pages are listed one Query at a time under an
// opaque cursor, and a URL's latest summary only moves forward in fetchedAt, whatever order deliveries come in.
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PageList } from '../../core/model/ports.js';
import { toSummary, type Summary } from '../../core/model/summary.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { crawlPk, latestKey, PAGE_PREFIX } from './keys.js';
import { conditionHeld, type StoreTable, type TableRef } from './requests.js';

export async function listPages(t: TableRef, crawlId: string, limit: number, cursor?: string): Promise<PageList> {
  const startSk = cursor === undefined ? undefined : decodeCursor(cursor);
  const out = await t.db.send(
    new QueryCommand({
      TableName: t.name,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :page)',
      ExpressionAttributeValues: { ':pk': crawlPk(crawlId), ':page': PAGE_PREFIX },
      Limit: limit,
      ...(startSk ? { ExclusiveStartKey: { PK: crawlPk(crawlId), SK: startSk } } : {}),
    }),
  );
  const last = out.LastEvaluatedKey?.['SK'];
  return { items: (out.Items ?? []).map(toSummary), cursor: typeof last === 'string' ? encodeCursor(last) : null };
}

export async function getLatest(t: TableRef, url: string): Promise<Summary | null> {
  const out = await t.db.send(new GetCommand({ TableName: t.name, Key: latestKey(url) }));
  return out.Item ? toSummary(out.Item) : null;
}

/** Keeps the newest summary of a URL across crawls; an older one than the stored one is dropped. */
export async function putLatest(t: StoreTable, crawlId: string, summary: Summary): Promise<void> {
  await conditionHeld(() =>
    t.db.send(
      new PutCommand({
        TableName: t.name,
        Item: { ...latestKey(summary.url), type: 'latest', ...summary, crawlId, expiresAt: t.expiresAt() },
        // Out-of-order deliveries must not replace a newer summary with an older one.
        ConditionExpression: 'attribute_not_exists(PK) OR fetchedAt <= :fetchedAt',
        ExpressionAttributeValues: { ':fetchedAt': summary.fetchedAt },
      }),
    ),
  );
}
