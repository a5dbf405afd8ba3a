// Invariant (maxPages accounting): a discovered URL is counted once per crawl, by the put of its SEEN item (only if
// absent) in the same transaction that adds it to total and pending, and only while total stays ≤ maxPages and the
// crawl is running (a cancelled crawl counts no more links); the delivery holding a counted link's lease is the one
// that queues it.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { URLS_PER_COUNTED_WRITE } from '../../core/model/limits.js';
import { getCrawl } from './crawl-lifecycle.js';
import { crawlKey, crawlPk, seenKey, seenSk } from './keys.js';
import { batchGetEach, cancellationCodesOf, conditionHeld, eachUpdate, transactWrite, updateExisting, type StoreTable, type TableRef } from './requests.js';

export interface RegisterLinksOptions {
  /** Cap on the crawl's total. */
  maxPages?: number | undefined;
  /** The links' depth (their parent's + 1). */
  depth: number;
  /** Epoch ms until which this delivery holds the right to queue them. */
  leaseUntil: number;
}

/** Counts the links not counted yet and returns those this delivery must queue (see CrawlStore.registerLinks). */
export async function registerLinks(t: StoreTable, crawlId: string, parentUrl: string, urls: readonly string[], options: RegisterLinksOptions): Promise<string[]> {
  const unique = [...new Set(urls)];
  const seenBy = await seenParents(t, crawlId, unique);
  // Links this parent registered on an earlier try that died before recording the page: queue them again, unless
  // another delivery of the same parent holds them right now (two deliveries at once queue each child once).
  const mine = await claimLinks(t, crawlId, unique.filter((url) => seenBy.get(url) === parentUrl), options.leaseUntil);
  let fresh = unique.filter((url) => !seenBy.has(url));
  const added: string[] = [];
  const countedBySelf: string[] = [];
  while (fresh.length > 0) {
    const batch = fresh.slice(0, URLS_PER_COUNTED_WRITE);
    const result = await addLinks(t, crawlId, parentUrl, batch, options);
    if (result.kind === 'added') {
      added.push(...batch);
      fresh = fresh.slice(batch.length);
    } else if (result.kind === 'taken') {
      // Counted first by another parent (drop them), or by this parent itself: an earlier try, or this very write,
      // retried by the SDK after it had in fact committed. Those are this parent's to queue; the rest are tried again.
      const parents = await seenParents(t, crawlId, [...result.urls]);
      countedBySelf.push(...[...result.urls].filter((url) => parents.get(url) === parentUrl));
      fresh = fresh.filter((url) => !result.urls.has(url));
    } else {
      if (result.room <= 0) break;
      fresh = fresh.slice(0, result.room);
    }
  }
  return [...mine, ...added, ...(await claimLinks(t, crawlId, countedBySelf, options.leaseUntil))];
}

/** Gives up the lease on links this delivery could not queue, so the next delivery of the parent queues them. */
export async function releaseLinks(t: TableRef, crawlId: string, urls: readonly string[]): Promise<void> {
  await updateExisting(t, urls.map((url) => seenKey(crawlId, url)), 'SET leaseUntil = :zero', { ':zero': 0 });
}

/** Notes that a counted URL will be tried again (its message is alive), so the reconciler does not requeue it yet. */
export async function noteRetry(t: TableRef, crawlId: string, url: string, at: string): Promise<void> {
  // Not held: a crawl from before SEEN items were kept for every URL, nothing to note.
  await conditionHeld(() => updateExisting(t, [seenKey(crawlId, url)], 'SET retriedAt = :at', { ':at': at }));
}

/** Takes the lease on links whose lease is free, has run out or is already this delivery's; those it got are returned. */
async function claimLinks(t: TableRef, crawlId: string, urls: readonly string[], leaseUntil: number): Promise<string[]> {
  const claimed = await eachUpdate(urls, async (url) => {
    const held = await conditionHeld(() =>
      t.db.send(
        new UpdateCommand({
          TableName: t.name,
          Key: seenKey(crawlId, url),
          UpdateExpression: 'SET leaseUntil = :until',
          // Free, run out, or already this delivery's own (its write was retried after committing).
          ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now OR leaseUntil = :until)',
          ExpressionAttributeValues: { ':until': leaseUntil, ':now': Date.now() },
        }),
      ),
    );
    return held ? url : null;
  });
  return claimed.filter((url): url is string => url !== null);
}

/** Which of these URLs the crawl has counted, and the parent that counted each ('' for a seed). */
async function seenParents(t: TableRef, crawlId: string, urls: readonly string[]): Promise<Map<string, string>> {
  const byHash = new Map(urls.map((url) => [seenSk(url), url]));
  const found = new Map<string, string>();
  const keys = [...byHash.keys()].map((SK) => ({ PK: crawlPk(crawlId), SK }));
  await batchGetEach(t, keys, { ProjectionExpression: 'SK, parent' }, (item) => {
    const url = byHash.get(item['SK'] as string);
    if (url !== undefined) found.set(url, item['parent'] as string);
  });
  return found;
}

/** One counted write: the SEEN items of a batch of new links and their count, within maxPages, or none of it. */
async function addLinks(
  t: StoreTable,
  crawlId: string,
  parentUrl: string,
  batch: readonly string[],
  { maxPages, depth, leaseUntil }: RegisterLinksOptions,
): Promise<{ kind: 'added' } | { kind: 'taken'; urls: Set<string> } | { kind: 'full'; room: number }> {
  const expiresAt = t.expiresAt();
  const n = batch.length;
  try {
    await transactWrite(t, () => [
      ...batch.map((url) => ({
        Put: {
          TableName: t.name,
          Item: { ...seenKey(crawlId, url), url, parent: parentUrl, depth, leaseUntil, expiresAt },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      })),
      {
        Update: {
          TableName: t.name,
          Key: crawlKey(crawlId),
          UpdateExpression: 'ADD #total :n, pending :n SET progressAt = :now',
          // total + n ≤ maxPages, written without arithmetic: total ≤ maxPages − n. Only while the crawl runs.
          ConditionExpression: maxPages ? '#status = :running AND #total <= :room' : '#status = :running',
          ExpressionAttributeNames: { '#total': 'total', '#status': 'status' },
          ExpressionAttributeValues: { ':n': n, ':now': new Date().toISOString(), ':running': 'running', ...(maxPages ? { ':room': maxPages - n } : {}) },
        },
      },
    ]);
    return { kind: 'added' };
  } catch (err) {
    const codes = cancellationCodesOf(err);
    if (!codes) throw err;
    const taken = new Set(batch.filter((_, i) => codes[i] === 'ConditionalCheckFailed'));
    if (taken.size > 0) return { kind: 'taken', urls: taken };
    if (codes[n] === 'ConditionalCheckFailed') {
      const crawl = await getCrawl(t, crawlId);
      if (!crawl) throw new Error(`crawl ${crawlId} does not exist`);
      // Cancelled (or, impossibly, completed while a page still finds links): no room for any.
      if (crawl.status !== 'running') return { kind: 'full', room: 0 };
      return { kind: 'full', room: (maxPages ?? 0) - crawl.total };
    }
    throw err;
  }
}
