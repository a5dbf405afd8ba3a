import { BatchGetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RunningCrawl, UnfinishedUrl } from '../core/model/crawl.js';
import type { ReconcileStore } from '../core/model/ports.js';
import { runningCrawlsIndex } from '../../lib/resources.js';
import { chunk, crawlPk, isConditionFailureError, META, RUNNING, untilProcessed, updateSeenItems } from './dynamo-store.js';

/**
 * The reconciler's view of the crawl table (keys in dynamo-store.ts): the running crawls through the sparse `running`
 * index, and per crawl the counted URLs (SEEN items) that have no outcome (no PAGE item with the same hash).
 */
export class DynamoReconcileStore implements ReconcileStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async runningCrawls(): Promise<RunningCrawl[]> {
    const ids: string[] = [];
    for await (const item of this.query({
      IndexName: runningCrawlsIndex.indexName,
      KeyConditionExpression: '#shard = :running',
      ExpressionAttributeNames: { '#shard': RUNNING.attribute },
      ExpressionAttributeValues: { ':running': RUNNING.value },
    })) {
      ids.push(String(item['PK']).slice('CRAWL#'.length));
    }
    const crawls: RunningCrawl[] = [];
    for (const keys of chunk(ids, 100)) {
      await untilProcessed<Record<string, unknown>>(
        keys.map((id) => ({ PK: crawlPk(id), SK: META })),
        'keys',
        async (pending) => {
          const out = await this.db.send(
            new BatchGetCommand({
              RequestItems: {
                [this.table]: {
                  Keys: pending,
                  ConsistentRead: true,
                  ProjectionExpression: 'crawlId, progressAt, createdAt, pending, #o, #s',
                  ExpressionAttributeNames: { '#o': 'options', '#s': 'status' },
                },
              },
            }),
          );
          for (const item of out.Responses?.[this.table] ?? []) {
            if (item['status'] !== 'running') continue;
            crawls.push({
              crawlId: item['crawlId'] as string,
              progressAt: (item['progressAt'] ?? item['createdAt']) as string,
              pending: Number(item['pending'] ?? 0),
              options: item['options'] as RunningCrawl['options'],
            });
          }
          return out.UnprocessedKeys?.[this.table]?.Keys as Record<string, unknown>[] | undefined;
        },
      );
    }
    return crawls;
  }

  async unfinishedUrls(crawlId: string): Promise<UnfinishedUrl[]> {
    const done = new Set<string>();
    for await (const item of this.query({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :page)',
      ExpressionAttributeValues: { ':pk': crawlPk(crawlId), ':page': 'PAGE#' },
      ProjectionExpression: 'SK',
      ConsistentRead: true,
    })) {
      done.add(String(item['SK']).slice('PAGE#'.length));
    }
    const unfinished: UnfinishedUrl[] = [];
    for await (const item of this.query({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :seen)',
      ExpressionAttributeValues: { ':pk': crawlPk(crawlId), ':seen': 'SEEN#' },
      ProjectionExpression: 'SK, #url, #depth, requeues, retriedAt',
      ExpressionAttributeNames: { '#url': 'url', '#depth': 'depth' },
      ConsistentRead: true,
    })) {
      // An item without its URL is not one this code wrote whole (an update that raced its expiry): nothing to queue.
      if (done.has(String(item['SK']).slice('SEEN#'.length)) || typeof item['url'] !== 'string') continue;
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
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: crawlPk(crawlId), SK: META },
          UpdateExpression: 'SET progressAt = :at',
          // A crawl item without progressAt (from before it was kept) counts as last touched when it was created.
          ConditionExpression: 'progressAt = :seen OR (attribute_not_exists(progressAt) AND createdAt = :seen)',
          ExpressionAttributeValues: { ':at': at, ':seen': seenProgressAt },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailureError(err)) return false;
      throw err;
    }
  }

  async markRequeued(crawlId: string, urls: readonly string[]): Promise<void> {
    await updateSeenItems(this.db, this.table, crawlId, urls, 'ADD requeues :one', { ':one': 1 });
  }

  private async *query(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): AsyncGenerator<Record<string, unknown>> {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(new QueryCommand({ ...input, TableName: this.table, ...(start ? { ExclusiveStartKey: start } : {}) }));
      yield* out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }
}
