// Invariant: a URL's outcome is recorded exactly once per crawl: its PAGE item is put only if absent, in the same
// transaction that moves the crawl's counters (succeeded or failed +1, pending −1), so a redelivery counts nothing.
import type { RecordOutcome } from '../../core/model/crawl.js';
import { URLS_PER_COUNTED_WRITE } from '../../core/model/limits.js';
import type { Summary } from '../../core/model/summary.js';
import { crawlKey, pageKey } from './keys.js';
import { cancellationCodesOf, transactWrite, type StoreTable, type TableRef } from './requests.js';

export interface Outcome {
  summary: Summary;
  depth: number;
}

/** A page item, written only if the URL has no outcome yet in this crawl: what makes recording exactly-once. */
function pagePut(t: StoreTable, crawlId: string, { summary, depth }: Outcome) {
  return {
    Put: {
      TableName: t.name,
      Item: { ...pageKey(crawlId, summary.url), type: 'page', ...summary, crawlId, depth, expiresAt: t.expiresAt() },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

/** The crawl's counters moved by these outcomes, in the same transaction as their page items. */
function countOutcomes(t: TableRef, crawlId: string, succeeded: number, failed: number) {
  return {
    Update: {
      TableName: t.name,
      Key: crawlKey(crawlId),
      UpdateExpression: 'ADD succeeded :s, failed :f, pending :minusN SET progressAt = :now',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: { ':s': succeeded, ':f': failed, ':minusN': -(succeeded + failed), ':now': new Date().toISOString() },
    },
  };
}

/**
 * Records many URLs' outcomes with as few transactions as DynamoDB allows (URLS_PER_COUNTED_WRITE pages and the crawl
 * item each), every URL exactly once: a page already recorded (an earlier delivery) cancels its transaction, is marked
 * a duplicate and left out of the retry. One crawl-item update per transaction instead of per page: fewer writes to
 * pay for, and fewer conflicts on the crawl's one hot item.
 */
export async function recordPages(t: StoreTable, crawlId: string, entries: readonly Outcome[]): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = entries.map(() => 'duplicate');
  // One URL twice in a batch (two deliveries of one message) cannot share a transaction: the first one stands.
  const seen = new Set<string>();
  let pending = entries.map((entry, index) => ({ ...entry, index })).filter((e) => !seen.has(e.summary.url) && seen.add(e.summary.url));
  while (pending.length > 0) {
    const batch = pending.slice(0, URLS_PER_COUNTED_WRITE);
    const succeeded = batch.filter((e) => e.summary.ok).length;
    try {
      await transactWrite(t, () => [...batch.map((e) => pagePut(t, crawlId, e)), countOutcomes(t, crawlId, succeeded, batch.length - succeeded)]);
      for (const e of batch) outcomes[e.index] = 'recorded';
      pending = pending.slice(batch.length);
    } catch (err) {
      const codes = cancellationCodesOf(err);
      if (!codes) throw err;
      if (codes[batch.length] === 'ConditionalCheckFailed') throw new Error(`crawl ${crawlId} does not exist`);
      const recordedBefore = new Set(batch.filter((_, i) => codes[i] === 'ConditionalCheckFailed').map((e) => e.index));
      if (recordedBefore.size === 0) throw err;
      pending = pending.filter((e) => !recordedBefore.has(e.index));
    }
  }
  return outcomes;
}
