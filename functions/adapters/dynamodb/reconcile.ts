// Invariant: the reconciler finds every counted URL without an outcome (a SEEN item with no PAGE item of the same
// hash) in every running crawl, and one pass at a time takes a stalled crawl, by a conditional write on its progress time.
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RunningCrawl, UnfinishedUrl } from '../../core/model/crawl.js';
import type { ReconcileStore } from '../../core/model/ports.js';
import { crawlIdOf, crawlKey, crawlPk, PAGE_PREFIX, RUNNING, SEEN_PREFIX, seenKey, urlHashOf } from './keys.js';
import { batchGetEach, conditionHeld, queryAll, updateExisting, type Projection, type TableRef } from './requests.js';

/** The reconciler's view of the crawl table: the running crawls through the sparse `running` index, and their unfinished URLs. */
export class DynamoReconcileStore implements ReconcileStore {
  private readonly t: TableRef;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.t = { db, name: table };
  }

  async runningCrawls(): Promise<RunningCrawl[]> {
    const ids: string[] = [];
    for await (const item of queryAll(this.t, {
      IndexName: RUNNING.index,
      KeyConditionExpression: '#shard = :running',
      ExpressionAttributeNames: { '#shard': RUNNING.attribute },
      ExpressionAttributeValues: { ':running': RUNNING.value },
    })) {
      ids.push(crawlIdOf(String(item['PK'])));
    }
    const crawls: RunningCrawl[] = [];
    const read = { ProjectionExpression: 'crawlId, progressAt, createdAt, pending, #o, #s', ExpressionAttributeNames: { '#o': 'options', '#s': 'status' } };
    await batchGetEach(this.t, ids.map(crawlKey), read, (item) => {
      // A cancelled crawl stays in the index until its URLs have ended: the reconciler ends the lost ones.
      if (item['status'] !== 'running' && item['status'] !== 'cancelled') return;
      crawls.push({
        crawlId: item['crawlId'] as string,
        ...(item['status'] === 'cancelled' ? { cancelled: true } : {}),
        progressAt: (item['progressAt'] ?? item['createdAt']) as string,
        pending: Number(item['pending'] ?? 0),
        options: item['options'] as RunningCrawl['options'],
      });
    });
    return crawls;
  }

  async unfinishedUrls(crawlId: string): Promise<UnfinishedUrl[]> {
    const done = new Set<string>();
    for await (const item of this.itemsOf(crawlId, PAGE_PREFIX, { ProjectionExpression: 'SK' })) {
      done.add(urlHashOf(String(item['SK']), PAGE_PREFIX));
    }
    const unfinished: UnfinishedUrl[] = [];
    const seenRead = { ProjectionExpression: 'SK, #url, #depth, requeues, retriedAt', ExpressionAttributeNames: { '#url': 'url', '#depth': 'depth' } };
    for await (const item of this.itemsOf(crawlId, SEEN_PREFIX, seenRead)) {
      // An item without its URL is not one this code wrote whole (an update that raced its expiry): nothing to queue.
      if (done.has(urlHashOf(String(item['SK']), SEEN_PREFIX)) || typeof item['url'] !== 'string') continue;
      unfinished.push({
        url: item['url'] as string,
        depth: Number(item['depth'] ?? 0),
        requeues: Number(item['requeues'] ?? 0),
        ...(typeof item['retriedAt'] === 'string' ? { retriedAt: item['retriedAt'] } : {}),
      });
    }
    return unfinished;
  }

  async claimCrawl(crawlId: string, seenProgressAt: string, at: string): Promise<boolean> {
    return conditionHeld(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: crawlKey(crawlId),
          UpdateExpression: 'SET progressAt = :at',
          // A crawl item without progressAt (from before it was kept) counts as last touched when it was created.
          ConditionExpression: 'progressAt = :seen OR (attribute_not_exists(progressAt) AND createdAt = :seen)',
          ExpressionAttributeValues: { ':at': at, ':seen': seenProgressAt },
        }),
      ),
    );
  }

  async markRequeued(crawlId: string, urls: readonly string[]): Promise<void> {
    await updateExisting(this.t, urls.map((url) => seenKey(crawlId, url)), 'ADD requeues :one', { ':one': 1 });
  }

  /** The crawl's items of one kind (PAGE# or SEEN#), strongly consistent. */
  private itemsOf(crawlId: string, prefix: string, read: Projection) {
    return queryAll(this.t, {
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': crawlPk(crawlId), ':prefix': prefix },
      ...read,
      ConsistentRead: true,
    });
  }
}
