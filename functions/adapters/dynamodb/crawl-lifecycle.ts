// Invariant: a crawl item is written once per id, only after each of its seeds is counted (has its SEEN item), and
// enters the running index then; it completes once, when pending = 0 and no sitemap work is pending, by a conditional write that also leaves the index.
// A running crawl is cancelled once (running → cancelled, with cancelledAt, by a conditional write); a cancelled crawl
// stays cancelled, and completes as any crawl does (completedAt set, off the index) with its status kept.
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Crawl } from '../../core/model/crawl.js';
import type { SitemapTask } from '../../core/sitemap/sitemap-message.js';
import { crawlKey, RUNNING, seenKey } from './keys.js';
import { batchWrite, conditionHeld, itemExists, type StoreTable, type TableRef } from './requests.js';
import { sitemapItems } from './sitemap-work.js';
import { listingItems } from './crawl-listing.js';

export async function createCrawl(t: StoreTable, crawl: Crawl, seeds: readonly string[], sitemaps: readonly SitemapTask[] = []): Promise<'created' | 'exists'> {
  // A retried scheduled submit: its crawl stands as recorded, seeds and all (rewriting them would reset what the
  // reconciler keeps on them).
  if (await itemExists(t, crawlKey(crawl.crawlId))) return 'exists';
  const expiresAt = t.expiresAt();
  // Seeds first: once the crawl item counts them, each already has the record the reconciler compares pages against
  // (and a link back to a seed is not counted twice). A submit that dies before the crawl item leaves no crawl.
  const puts = seeds.map((url) => ({ PutRequest: { Item: { ...seenKey(crawl.crawlId, url), url, parent: '', depth: 0, expiresAt } } }));
  // Likewise its sitemap work (sitemap-work.ts), counted by the crawl item's sitemapWork.
  // And its listing items (crawl-listing.ts), so a crawl is listed from the moment it exists.
  await batchWrite(t, [...puts, ...[...sitemapItems(t, crawl.crawlId, sitemaps), ...listingItems(t, crawl)].map((Item) => ({ PutRequest: { Item } }))]);
  const created = await conditionHeld(() =>
    t.db.send(
      new PutCommand({
        TableName: t.name,
        Item: {
          ...crawlKey(crawl.crawlId),
          type: 'crawl',
          ...crawl,
          pending: crawl.total,
          ...(sitemaps.length > 0 ? { sitemapWork: sitemaps.length } : {}),
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
  for (let tries = 0; tries < 2; tries++) {
    const current = await t.db.send(
      new GetCommand({
        TableName: t.name,
        Key: crawlKey(crawlId),
        ProjectionExpression: 'pending, sitemapWork, #status, completedAt',
        ExpressionAttributeNames: { '#status': 'status' },
        ConsistentRead: true,
      }),
    );
    const status = current.Item?.['status'];
    if (!current.Item || current.Item['pending'] !== 0 || current.Item['completedAt'] !== undefined) return false;
    // Sitemap work still pending may count more URLs (sitemap-work.ts).
    if ((current.Item['sitemapWork'] ?? 0) !== 0) return false;
    if (status !== 'running' && status !== 'cancelled') return false;
    // A cancelled crawl keeps its status; a running one becomes completed.
    const completed = await conditionHeld(() =>
      t.db.send(
        new UpdateCommand({
          TableName: t.name,
          Key: crawlKey(crawlId),
          UpdateExpression: `SET ${status === 'running' ? '#status = :completed, ' : ''}completedAt = :at REMOVE #running`,
          ConditionExpression: 'pending = :zero AND #status = :status AND attribute_not_exists(completedAt) AND (attribute_not_exists(sitemapWork) OR sitemapWork = :zero)',
          ExpressionAttributeNames: { '#status': 'status', '#running': RUNNING.attribute },
          ExpressionAttributeValues: { ':status': status, ':at': completedAt, ':zero': 0, ...(status === 'running' ? { ':completed': 'completed' } : {}) },
        }),
      ),
    );
    if (completed) return true;
    // Cancelled between the read and the write: once more, as the cancelled crawl it now is.
  }
  return false;
}

export async function cancelCrawl(t: TableRef, crawlId: string, cancelledAt: string): Promise<Crawl | null> {
  // The crawl stays in the running index: it is not done until its URLs have ended (completeIfDone takes it off).
  await conditionHeld(() =>
    t.db.send(
      new UpdateCommand({
        TableName: t.name,
        Key: crawlKey(crawlId),
        UpdateExpression: 'SET #status = :cancelled, cancelledAt = :at',
        ConditionExpression: '#status = :running',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':cancelled': 'cancelled', ':running': 'running', ':at': cancelledAt },
      }),
    ),
  );
  // Whether this call cancelled it or not, the crawl as it now stands says what happened (cancelled earlier, completed, none).
  return getCrawl(t, crawlId);
}

export async function getCrawl(t: TableRef, crawlId: string): Promise<Crawl | null> {
  const out = await t.db.send(new GetCommand({ TableName: t.name, Key: crawlKey(crawlId), ConsistentRead: true }));
  if (!out.Item) return null;
  return crawlOf(out.Item);
}

/** The crawl an item holds, without its bookkeeping (counters of work, index keys, TTL). */
export function crawlOf(item: Record<string, unknown>): Crawl {
  const { crawlId, status, total, succeeded, failed, createdAt, completedAt, cancelledAt, options, source, name, webhook, skipped } = item;
  return {
    crawlId, status, total, succeeded, failed, createdAt, options, source,
    ...(completedAt ? { completedAt } : {}),
    ...(cancelledAt ? { cancelledAt } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(webhook !== undefined ? { webhook } : {}),
    ...(skipped !== undefined ? { skipped } : {}),
  } as Crawl;
}
