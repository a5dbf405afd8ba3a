import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { crawlKey, pageKey, seenKey } from '../../functions/adapters/dynamodb/keys.js';
import { tableChangeOf } from '../../functions/adapters/table-stream.js';

const crawlId = '01K0000000000000000000000A';
const crawlItem = { ...crawlKey(crawlId), type: 'crawl', crawlId, status: 'running', total: 1, succeeded: 0, failed: 0, pending: 1, createdAt: '2026-01-01T00:00:00.000Z', options: { maxDepth: 0, sameOrigin: true }, source: { kind: 'api' }, runningShard: 'RUNNING', expiresAt: 1 };
const image = (item: object) => marshall(item, { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];
const record = (eventName: DynamoDBRecord['eventName'], keys: object, newItem?: object, oldItem?: object): DynamoDBRecord => ({
  eventName,
  dynamodb: {
    SequenceNumber: '42',
    ApproximateCreationDateTime: 1_767_225_600,
    Keys: image(keys),
    ...(newItem ? { NewImage: image(newItem) } : {}),
    ...(oldItem ? { OldImage: image(oldItem) } : {}),
  },
});

describe('tableChangeOf', () => {
  it("reads a crawl item's images as the crawl before and after, without the item's bookkeeping", () => {
    const done = { ...crawlItem, status: 'completed', succeeded: 1, pending: 0, completedAt: '2026-01-01T00:01:00.000Z' };
    const change = tableChangeOf(record('MODIFY', crawlKey(crawlId), done, crawlItem));
    expect(change).toMatchObject({ kind: 'crawl', id: '42', before: { status: 'running' }, after: { status: 'completed', completedAt: done.completedAt } });
    expect(change.kind === 'crawl' && Object.keys(change.after!)).not.toContain('pending');
  });

  it("reads an inserted page item as its crawl's id and its Summary", () => {
    const url = 'https://a.example/';
    const item = { ...pageKey(crawlId, url), type: 'page', url, ok: true, title: 'T', change: 'changed', changedFields: ['title'], crawlId, depth: 0, expiresAt: 1 };
    expect(tableChangeOf(record('INSERT', pageKey(crawlId, url), item))).toEqual({
      kind: 'page',
      id: '42',
      inserted: true,
      crawlId,
      summary: { url, ok: true, title: 'T', change: 'changed', changedFields: ['title'], depth: 0 },
    });
  });

  it('reads any other item as no change of interest', () => {
    expect(tableChangeOf(record('INSERT', seenKey(crawlId, 'https://a.example/'), { url: 'https://a.example/' }))).toEqual({ kind: 'other', id: '42' });
  });
});
