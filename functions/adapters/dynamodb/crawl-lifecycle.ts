// Invariant: a crawl item is written once per id, only after each of its seeds is counted (has its SEEN item), and
// enters the running index then; it completes once, when pending = 0, by a conditional write that also leaves the index.
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Crawl } from '../../core/model/crawl.js';
import { crawlKey, RUNNING, seenKey } from './keys.js';
import { batchWrite, conditionHeld, itemExists, type StoreTable, type TableRef } from './requests.js';

export async function createCrawl(t: StoreTable, crawl: Crawl, seeds: readonly string[]): Promise<'created' | 'exists'> {
  // A retried scheduled submit: its crawl stands as recorded, seeds and all (rewriting them would reset what the
  // reconciler keeps on them).
  if (await itemExists(t, crawlKey(crawl.crawlId))) return 'exists';
  const expiresAt = t.expiresAt();
  // Seeds first: once the crawl item counts them, each already has the record the reconciler compares pages against
  // (and a link back to a seed is not counted twice). A submit that dies before the crawl item leaves no crawl.
  const puts = seeds.map((url) => ({ PutRequest: { Item: { ...seenKey(crawl.crawlId, url), url, parent: '', depth: 0, expiresAt } } }));
  await batchWrite(t, puts);
  const created = await conditionHeld(() =>
    t.db.send(
      new PutCommand({
        TableName: t.name,
        Item: {
          ...crawlKey(crawl.crawlId),
          type: 'crawl',
          ...crawl,
          pending: crawl.total,
          progressAt: crawl.createdAt,
          [RUNNING.attribute]: RUNNING.value,
          expiresAt,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    ),
  );
  // Not created: the same crawl id again, a retried scheduled submit whose first try recorded the crawl.
  return created ? 'created' : 'exists';
}

export async function completeIfDone(t: TableRef, crawlId: string, completedAt: string): Promise<boolean> {
  // Every page ends with this check, and nearly always the crawl is not done: a strongly consistent read (1 RRU)
  // settles that five times cheaper than a conditional write that fails (1 WRU). The write stays conditional, so
  // two consumers that both read `pending = 0` still complete the crawl once.
  const current = await t.db.send(
    new GetCommand({
      TableName: t.name,
      Key: crawlKey(crawlId),
      ProjectionExpression: 'pending, #status',
      ExpressionAttributeNames: { '#status': 'status' },
      ConsistentRead: true,
    }),
  );
  if (!current.Item || current.Item['pending'] !== 0 || current.Item['status'] !== 'running') return false;
  return conditionHeld(() =>
    t.db.send(
      new UpdateCommand({
        TableName: t.name,
        Key: crawlKey(crawlId),
        UpdateExpression: 'SET #status = :completed, completedAt = :at REMOVE #running',
        ConditionExpression: 'pending = :zero AND #status = :running',
        ExpressionAttributeNames: { '#status': 'status', '#running': RUNNING.attribute },
        ExpressionAttributeValues: { ':completed': 'completed', ':running': 'running', ':at': completedAt, ':zero': 0 },
      }),
    ),
  );
}

export async function getCrawl(t: TableRef, crawlId: string): Promise<Crawl | null> {
  const out = await t.db.send(new GetCommand({ TableName: t.name, Key: crawlKey(crawlId), ConsistentRead: true }));
  if (!out.Item) return null;
  const { crawlId: id, status, total, succeeded, failed, createdAt, completedAt, options, source } = out.Item;
  return { crawlId: id, status, total, succeeded, failed, createdAt, options, source, ...(completedAt ? { completedAt } : {}) } as Crawl;
}
