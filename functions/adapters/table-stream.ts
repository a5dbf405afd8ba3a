import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { TableChange } from '../core/events/events.js';
import { toSummary } from '../core/model/summary.js';
import { crawlOf } from './dynamodb/crawl-lifecycle.js';
import { crawlIdOf, isPageSk, META } from './dynamodb/keys.js';

type Image = Record<string, AttributeValue>;

/**
 * A stream record of the crawl table as the change of the model it is: a crawl item before and after, or a page item
 * inserted (keys.ts says which item is which; crawlOf and toSummary read them as the store does).
 */
export function tableChangeOf(record: DynamoDBRecord): TableChange {
  const stream = record.dynamodb ?? {};
  const id = stream.SequenceNumber ?? record.eventID ?? '';
  const keys = stream.Keys ? unmarshall(stream.Keys as Image) : {};
  const sk = typeof keys['SK'] === 'string' ? keys['SK'] : '';
  const pk = typeof keys['PK'] === 'string' ? keys['PK'] : '';
  const oldItem = stream.OldImage ? unmarshall(stream.OldImage as Image) : null;
  const newItem = stream.NewImage ? unmarshall(stream.NewImage as Image) : null;
  if (sk === META) {
    return { kind: 'crawl', id, before: oldItem ? crawlOf(oldItem) : null, after: newItem ? crawlOf(newItem) : null };
  }
  if (isPageSk(sk) && newItem) {
    return { kind: 'page', id, inserted: record.eventName === 'INSERT', crawlId: crawlIdOf(pk), summary: toSummary(newItem) };
  }
  return { kind: 'other', id };
}
