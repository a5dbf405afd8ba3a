import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { invalid } from '../core/model/errors.js';
import type { Crawl, RecordOutcome } from '../core/model/crawl.js';
import { URLS_PER_COUNTED_WRITE } from '../core/model/limits.js';
import type { CrawlStore, PageList } from '../core/model/ports.js';
import { toSummary, type Summary } from '../core/model/summary.js';
import { runningCrawlsIndex } from '../../lib/resources.js';

/**
 * The crawl table (see lib/resources.ts for its keys):
 *   crawl        PK CRAWL#<id>  SK #META        status, counters (total, succeeded, failed, pending), options
 *   page         PK CRAWL#<id>  SK PAGE#<hash>  the Summary of one URL in that crawl
 *   seen link    PK CRAWL#<id>  SK SEEN#<hash>  a URL the crawl has counted (seeds included): its depth, which page
 *                                              found it, the lease of whoever queues it, times the reconciler requeued it
 *   latest       PK URL#<hash>  SK #LATEST      the newest Summary of a URL across crawls
 * URLs are keyed by their SHA-256 because a 2,048-character URL does not fit DynamoDB's 1,024-byte sort key.
 * `pending` = total − succeeded − failed, kept in the same writes, so "done" is a plain condition `pending = 0`.
 * The table is the truth: every URL counted in `total` has its SEEN item before its message is sent, so a URL whose
 * message was lost is a SEEN item with no PAGE item, which the reconciler finds (dynamo-reconcile.ts).
 */
export const META = '#META';
export const crawlPk = (id: string) => `CRAWL#${id}`;
const urlHash = (url: string) => createHash('sha256').update(url).digest('base64url');
export const pageSk = (url: string) => `PAGE#${urlHash(url)}`;
export const seenSk = (url: string) => `SEEN#${urlHash(url)}`;
/**
 * Running crawls carry this attribute, which keys the sparse `running` index the reconciler reads; completing a crawl
 * removes it. One value: the index is written only when a crawl starts or ends, never per page.
 */
export const RUNNING = { attribute: runningCrawlsIndex.partitionKey.name, value: 'RUNNING' } as const;
const latestKey = (url: string) => ({ PK: `URL#${urlHash(url)}`, SK: '#LATEST' });

/** DynamoDB limits: 100 items in a transaction (one is the crawl update), 100 keys in a BatchGet, 25 in a BatchWrite. */
const BATCH_GET_KEYS = 100;
const BATCH_WRITE_ITEMS = 25;

export interface RegisterLinksOptions {
  /** Cap on the crawl's total. */
  maxPages?: number | undefined;
  /** The links' depth (their parent's + 1). */
  depth: number;
  /** Epoch ms until which this delivery holds the right to queue them. */
  leaseUntil: number;
}

export interface DynamoStoreOptions {
  tableName: string;
  retentionDays: number;
  client?: DynamoDBDocumentClient;
}

export const isConditionFailureError = (err: unknown) => err instanceof ConditionalCheckFailedException;

export function createDocumentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const isConditionFailure = isConditionFailureError;
const cancellationCodes = (err: TransactionCanceledException) => (err.CancellationReasons ?? []).map((r) => r.Code ?? 'None');

/** Transactions on the hot crawl item conflict under concurrency; DynamoDB says retry with backoff (capped at 1 s, 16 tries: a busy crawl item is the normal case, not an outage). */
async function withConflictRetry<T>(op: () => Promise<T>, attempts = 16): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const conflict = err instanceof TransactionCanceledException && cancellationCodes(err).includes('TransactionConflict');
      if (!conflict || attempt >= attempts) throw err;
      await sleep(Math.random() * Math.min(1_000, 20 * 2 ** attempt));
    }
  }
}

/** Repeats a batch call with what DynamoDB left unprocessed, backing off, until nothing is left. */
export async function untilProcessed<T>(items: T[], what: string, call: (pending: T[]) => Promise<T[] | undefined>): Promise<void> {
  let pending: T[] | undefined = items;
  for (let attempt = 0; pending && pending.length > 0; attempt++) {
    if (attempt > 8) throw new Error(`DynamoDB kept ${what} unprocessed after retries`);
    if (attempt > 0) await sleep(Math.min(2_000, 50 * 2 ** attempt));
    pending = await call(pending);
  }
}

export class DynamoCrawlStore implements CrawlStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly retentionSeconds: number;

  constructor(options: DynamoStoreOptions) {
    this.db = options.client ?? createDocumentClient();
    this.table = options.tableName;
    this.retentionSeconds = options.retentionDays * 24 * 3600;
  }

  private expiresAt(): number {
    return Math.floor(Date.now() / 1000) + this.retentionSeconds;
  }

  async createCrawl(crawl: Crawl, seeds: readonly string[]): Promise<'created' | 'exists'> {
    // A retried scheduled submit: its crawl stands as recorded, seeds and all (rewriting them would reset what the
    // reconciler keeps on them).
    if (await this.crawlExists(crawl.crawlId)) return 'exists';
    const expiresAt = this.expiresAt();
    // Seeds first: once the crawl item counts them, each already has the record the reconciler compares pages against
    // (and a link back to a seed is not counted twice). A submit that dies before the crawl item leaves no crawl.
    const puts = seeds.map((url) => ({
      PutRequest: { Item: { PK: crawlPk(crawl.crawlId), SK: seenSk(url), url, parent: '', depth: 0, expiresAt } },
    }));
    await Promise.all(chunk(puts, BATCH_WRITE_ITEMS).map((requests) => this.batchWrite(requests)));
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            PK: crawlPk(crawl.crawlId),
            SK: META,
            type: 'crawl',
            ...crawl,
            pending: crawl.total,
            progressAt: crawl.createdAt,
            [RUNNING.attribute]: RUNNING.value,
            expiresAt,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return 'created';
    } catch (err) {
      // The same crawl id again: a retried scheduled submit, whose first try recorded the crawl.
      if (isConditionFailure(err)) return 'exists';
      throw err;
    }
  }

  private crawlExists(crawlId: string): Promise<boolean> {
    return this.itemExists(crawlId, META);
  }

  /** Whether an item of the crawl exists: one strongly consistent read of its key only. */
  private async itemExists(crawlId: string, sk: string): Promise<boolean> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { PK: crawlPk(crawlId), SK: sk }, ProjectionExpression: 'PK', ConsistentRead: true }));
    return out.Item !== undefined;
  }

  private async batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    await untilProcessed(requests, 'items', async (pending) => {
      const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending as never } }));
      return out.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
    });
  }

  hasPage(crawlId: string, url: string): Promise<boolean> {
    return this.itemExists(crawlId, pageSk(url));
  }

  /** A page item, written only if the URL has no outcome yet in this crawl: what makes recording exactly-once. */
  private pagePut(crawlId: string, summary: Summary, depth: number) {
    return {
      Put: {
        TableName: this.table,
        Item: { PK: crawlPk(crawlId), SK: pageSk(summary.url), type: 'page', ...summary, crawlId, depth, expiresAt: this.expiresAt() },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
  }

  /** The crawl's counters moved by these outcomes, in the same transaction as their page items. */
  private countOutcomes(crawlId: string, succeeded: number, failed: number) {
    return {
      Update: {
        TableName: this.table,
        Key: { PK: crawlPk(crawlId), SK: META },
        UpdateExpression: 'ADD succeeded :s, failed :f, pending :minusN SET progressAt = :now',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':s': succeeded, ':f': failed, ':minusN': -(succeeded + failed), ':now': new Date().toISOString() },
      },
    };
  }

  async recordPage(crawlId: string, summary: Summary, depth: number): Promise<RecordOutcome> {
    return (await this.recordPages(crawlId, [{ summary, depth }]))[0]!;
  }

  /**
   * Records many URLs' outcomes with as few transactions as DynamoDB allows (99 pages and the crawl item each), every
   * URL exactly once: a page already recorded (an earlier delivery) cancels its transaction, is marked a duplicate and
   * left out of the retry. One crawl-item update per transaction instead of per page: fewer writes to pay for, and
   * fewer conflicts on the crawl's one hot item.
   */
  async recordPages(crawlId: string, entries: readonly { summary: Summary; depth: number }[]): Promise<(RecordOutcome)[]> {
    const outcomes: (RecordOutcome)[] = entries.map(() => 'duplicate');
    // One URL twice in a batch (two deliveries of one message) cannot share a transaction: the first one stands.
    const seen = new Set<string>();
    let pending = entries.map((entry, index) => ({ ...entry, index })).filter((e) => !seen.has(e.summary.url) && seen.add(e.summary.url));
    while (pending.length > 0) {
      const batch = pending.slice(0, URLS_PER_COUNTED_WRITE);
      const succeeded = batch.filter((e) => e.summary.ok).length;
      try {
        await withConflictRetry(() =>
          this.db.send(
            new TransactWriteCommand({
              TransactItems: [...batch.map((e) => this.pagePut(crawlId, e.summary, e.depth)), this.countOutcomes(crawlId, succeeded, batch.length - succeeded)],
            }),
          ),
        );
        for (const e of batch) outcomes[e.index] = 'recorded';
        pending = pending.slice(batch.length);
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const codes = cancellationCodes(err);
        if (codes[batch.length] === 'ConditionalCheckFailed') throw new Error(`crawl ${crawlId} does not exist`);
        const recordedBefore = new Set(batch.filter((_, i) => codes[i] === 'ConditionalCheckFailed').map((e) => e.index));
        if (recordedBefore.size === 0) throw err;
        pending = pending.filter((e) => !recordedBefore.has(e.index));
      }
    }
    return outcomes;
  }

  async recordFailures(crawlId: string, summaries: readonly Summary[], depth: number): Promise<void> {
    await this.recordPages(crawlId, summaries.map((summary) => ({ summary, depth })));
  }

  async completeIfDone(crawlId: string, completedAt: string): Promise<boolean> {
    // Every page ends with this check, and nearly always the crawl is not done: a strongly consistent read (1 RRU)
    // settles that five times cheaper than a conditional write that fails (1 WRU). The write stays conditional, so
    // two consumers that both read `pending = 0` still complete the crawl once.
    const current = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { PK: crawlPk(crawlId), SK: META },
        ProjectionExpression: 'pending, #status',
        ExpressionAttributeNames: { '#status': 'status' },
        ConsistentRead: true,
      }),
    );
    if (!current.Item || current.Item['pending'] !== 0 || current.Item['status'] !== 'running') return false;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: crawlPk(crawlId), SK: META },
          UpdateExpression: 'SET #status = :completed, completedAt = :at REMOVE #running',
          ConditionExpression: 'pending = :zero AND #status = :running',
          ExpressionAttributeNames: { '#status': 'status', '#running': RUNNING.attribute },
          ExpressionAttributeValues: { ':completed': 'completed', ':running': 'running', ':at': completedAt, ':zero': 0 },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async registerLinks(crawlId: string, parentUrl: string, urls: readonly string[], options: RegisterLinksOptions): Promise<string[]> {
    const unique = [...new Set(urls)];
    const seenBy = await this.seenParents(crawlId, unique);
    // Links this parent registered on an earlier try that died before recording the page: queue them again, unless
    // another delivery of the same parent holds them right now (two deliveries at once queue each child once).
    const mine = await this.claimLinks(crawlId, unique.filter((url) => seenBy.get(url) === parentUrl), options.leaseUntil);
    let fresh = unique.filter((url) => !seenBy.has(url));
    const added: string[] = [];
    const countedBySelf: string[] = [];
    while (fresh.length > 0) {
      const batch = fresh.slice(0, URLS_PER_COUNTED_WRITE);
      const result = await this.addLinks(crawlId, parentUrl, batch, options);
      if (result.kind === 'added') {
        added.push(...batch);
        fresh = fresh.slice(batch.length);
      } else if (result.kind === 'taken') {
        // Counted first by another parent (drop them), or by this parent itself: an earlier try, or this very write,
        // retried by the SDK after it had in fact committed. Those are this parent's to queue; the rest are tried again.
        const parents = await this.seenParents(crawlId, [...result.urls]);
        countedBySelf.push(...[...result.urls].filter((url) => parents.get(url) === parentUrl));
        fresh = fresh.filter((url) => !result.urls.has(url));
      } else {
        if (result.room <= 0) break;
        fresh = fresh.slice(0, result.room);
      }
    }
    return [...mine, ...added, ...(await this.claimLinks(crawlId, countedBySelf, options.leaseUntil))];
  }

  /** Takes the lease on links whose lease is free, has run out or is already this delivery's; those it got are returned. */
  private async claimLinks(crawlId: string, urls: readonly string[], leaseUntil: number): Promise<string[]> {
    const limit = pLimit(16);
    const claimed = await Promise.all(
      urls.map((url) =>
        limit(async () => {
          try {
            await this.db.send(
              new UpdateCommand({
                TableName: this.table,
                Key: { PK: crawlPk(crawlId), SK: seenSk(url) },
                UpdateExpression: 'SET leaseUntil = :until',
                // Free, run out, or already this delivery's own (its write was retried after committing).
                ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now OR leaseUntil = :until)',
                ExpressionAttributeValues: { ':until': leaseUntil, ':now': Date.now() },
              }),
            );
            return url;
          } catch (err) {
            if (isConditionFailure(err)) return null;
            throw err;
          }
        }),
      ),
    );
    return claimed.filter((url): url is string => url !== null);
  }

  async noteRetry(crawlId: string, url: string, at: string): Promise<void> {
    try {
      await updateSeenItems(this.db, this.table, crawlId, [url], 'SET retriedAt = :at', { ':at': at });
    } catch (err) {
      // A crawl from before SEEN items were kept for every URL: nothing to note.
      if (!isConditionFailure(err)) throw err;
    }
  }

  async releaseLinks(crawlId: string, urls: readonly string[]): Promise<void> {
    await updateSeenItems(this.db, this.table, crawlId, urls, 'SET leaseUntil = :zero', { ':zero': 0 });
  }


  private async seenParents(crawlId: string, urls: readonly string[]): Promise<Map<string, string>> {
    const byHash = new Map(urls.map((url) => [seenSk(url), url]));
    const found = new Map<string, string>();
    for (const keys of chunk([...byHash.keys()], BATCH_GET_KEYS)) {
      const request: Record<string, unknown>[] = keys.map((SK) => ({ PK: crawlPk(crawlId), SK }));
      await untilProcessed(request, 'keys', async (pending) => {
        const out = await this.db.send(
          new BatchGetCommand({
            RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true, ProjectionExpression: 'SK, parent' } },
          }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          const url = byHash.get(item['SK'] as string);
          if (url !== undefined) found.set(url, item['parent'] as string);
        }
        return out.UnprocessedKeys?.[this.table]?.Keys as Record<string, unknown>[] | undefined;
      });
    }
    return found;
  }

  private async addLinks(
    crawlId: string,
    parentUrl: string,
    batch: readonly string[],
    { maxPages, depth, leaseUntil }: RegisterLinksOptions,
  ): Promise<{ kind: 'added' } | { kind: 'taken'; urls: Set<string> } | { kind: 'full'; room: number }> {
    const expiresAt = this.expiresAt();
    const n = batch.length;
    try {
      await withConflictRetry(() =>
        this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              ...batch.map((url) => ({
                Put: {
                  TableName: this.table,
                  Item: { PK: crawlPk(crawlId), SK: seenSk(url), url, parent: parentUrl, depth, leaseUntil, expiresAt },
                  ConditionExpression: 'attribute_not_exists(PK)',
                },
              })),
              {
                Update: {
                  TableName: this.table,
                  Key: { PK: crawlPk(crawlId), SK: META },
                  UpdateExpression: 'ADD #total :n, pending :n SET progressAt = :now',
                  // total + n ≤ maxPages, written without arithmetic: total ≤ maxPages − n.
                  ConditionExpression: maxPages ? '#total <= :room' : 'attribute_exists(PK)',
                  ExpressionAttributeNames: { '#total': 'total' },
                  ExpressionAttributeValues: { ':n': n, ':now': new Date().toISOString(), ...(maxPages ? { ':room': maxPages - n } : {}) },
                },
              },
            ],
          }),
        ),
      );
      return { kind: 'added' };
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const codes = cancellationCodes(err);
      const taken = new Set(batch.filter((_, i) => codes[i] === 'ConditionalCheckFailed'));
      if (taken.size > 0) return { kind: 'taken', urls: taken };
      if (codes[n] === 'ConditionalCheckFailed') {
        const crawl = await this.getCrawl(crawlId);
        if (!crawl) throw new Error(`crawl ${crawlId} does not exist`);
        return { kind: 'full', room: (maxPages ?? 0) - crawl.total };
      }
      throw err;
    }
  }

  async putLatest(crawlId: string, summary: Summary): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...latestKey(summary.url), type: 'latest', ...summary, crawlId, expiresAt: this.expiresAt() },
          // Out-of-order deliveries must not replace a newer summary with an older one.
          ConditionExpression: 'attribute_not_exists(PK) OR fetchedAt <= :fetchedAt',
          ExpressionAttributeValues: { ':fetchedAt': summary.fetchedAt },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async getCrawl(crawlId: string): Promise<Crawl | null> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { PK: crawlPk(crawlId), SK: META }, ConsistentRead: true }));
    if (!out.Item) return null;
    const { crawlId: id, status, total, succeeded, failed, createdAt, completedAt, options, source } = out.Item;
    return { crawlId: id, status, total, succeeded, failed, createdAt, options, source, ...(completedAt ? { completedAt } : {}) } as Crawl;
  }

  async listPages(crawlId: string, limit: number, cursor?: string): Promise<PageList> {
    const startSk = cursor === undefined ? undefined : decodeCursor(cursor);
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :page)',
        ExpressionAttributeValues: { ':pk': crawlPk(crawlId), ':page': 'PAGE#' },
        Limit: limit,
        ...(startSk ? { ExclusiveStartKey: { PK: crawlPk(crawlId), SK: startSk } } : {}),
      }),
    );
    const last = out.LastEvaluatedKey?.['SK'];
    return { items: (out.Items ?? []).map(toSummary), cursor: typeof last === 'string' ? encodeCursor(last) : null };
  }

  async getLatest(url: string): Promise<Summary | null> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: latestKey(url) }));
    return out.Item ? toSummary(out.Item) : null;
  }
}

/** One update of each URL's SEEN item (16 at a time): an item update has no batch form. */
export async function updateSeenItems(
  db: DynamoDBDocumentClient,
  table: string,
  crawlId: string,
  urls: readonly string[],
  updateExpression: string,
  values: Record<string, unknown>,
): Promise<void> {
  const limit = pLimit(16);
  await Promise.all(
    urls.map((url) =>
      limit(() =>
        db.send(
          new UpdateCommand({
            TableName: table,
            Key: { PK: crawlPk(crawlId), SK: seenSk(url) },
            UpdateExpression: updateExpression,
            ConditionExpression: 'attribute_exists(PK)',
            ExpressionAttributeValues: values,
          }),
        ),
      ),
    ),
  );
}

/** Cursors are opaque to clients: the last sort key, versioned, base64url. Anything else is a 400, not a 500. */
function encodeCursor(sk: string): string {
  return Buffer.from(JSON.stringify({ v: 1, sk })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const invalidCursor = () => invalid('INVALID_CURSOR', 'cursor is not one this API returned');
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const sk = (parsed as { sk?: unknown })?.sk;
  if ((parsed as { v?: unknown })?.v !== 1 || typeof sk !== 'string' || !/^PAGE#[A-Za-z0-9_-]{43}$/.test(sk)) throw invalidCursor();
  return sk;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
