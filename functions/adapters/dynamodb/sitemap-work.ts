// Invariant (sitemap work): a piece of a crawl's sitemap work is counted once, by the put of its SITEMAP item (only if
// absent) in the same transaction that adds it to the crawl's sitemapWork (only while the crawl runs, and within its
// origin's MAX_SITEMAPS_PER_ORIGIN, counted on the origin's level-0 item), and ended once, by moving that item from
// pending to done in the same transaction that takes it off sitemapWork. A crawl completes only at sitemapWork = 0
// (crawl-lifecycle.ts), so it cannot complete while a sitemap may still add URLs.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SitemapOutcome, SitemapReconcileStore, SitemapStore, UnfinishedSitemap } from '../../core/sitemap/ports.js';
import { MAX_SITEMAPS_PER_ORIGIN, type SitemapTask } from '../../core/sitemap/sitemap-message.js';
import { crawlKey, crawlPk, SITEMAP_PREFIX, sitemapKey } from './keys.js';
import { batchGetEach, cancellationCodesOf, conditionHeld, queryAll, transactWrite, updateExisting, type StoreTable } from './requests.js';

const PENDING = 'pending';
const DONE = 'done';

/** The items a crawl's level-0 tasks are written as, before the crawl item that counts them (createCrawl). */
export function sitemapItems(t: StoreTable, crawlId: string, tasks: readonly SitemapTask[]): Record<string, unknown>[] {
  const expiresAt = t.expiresAt();
  return tasks.map((task) => ({ ...sitemapKey(crawlId, task), ...task, parent: '', state: PENDING, expiresAt }));
}

const originTask = (task: SitemapTask) => ({ origin: task.origin, url: `${task.origin}/robots.txt` });

export class DynamoSitemapStore implements SitemapStore, SitemapReconcileStore {
  constructor(private readonly t: StoreTable) {}

  async addSitemaps(crawlId: string, parent: SitemapTask, children: readonly SitemapTask[]): Promise<SitemapTask[]> {
    const unique = [...new Map(children.map((c) => [sitemapKey(crawlId, c).SK, c])).values()];
    const existing = await this.read(crawlId, unique);
    // Those this parent counted on an earlier try that may have died before queueing them.
    const mine = unique.filter((c) => {
      const item = existing.get(sitemapKey(crawlId, c).SK);
      return item && item['parent'] === parent.url && item['state'] === PENDING;
    });
    let fresh = unique.filter((c) => !existing.has(sitemapKey(crawlId, c).SK));
    const added: SitemapTask[] = [];
    while (fresh.length > 0) {
      const result = await this.add(crawlId, parent, fresh);
      if (result.kind === 'added') {
        added.push(...fresh);
        break;
      }
      if (result.kind === 'taken') fresh = fresh.filter((c) => !result.keys.has(sitemapKey(crawlId, c).SK));
      else if (result.kind === 'stopped') break;
      else fresh = fresh.slice(0, Math.max(0, result.room));
    }
    return [...mine, ...added];
  }

  async sitemapDone(crawlId: string, task: SitemapTask): Promise<boolean> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: sitemapKey(crawlId, task), ProjectionExpression: '#state', ExpressionAttributeNames: { '#state': 'state' }, ConsistentRead: true }),
    );
    // No record: not work this crawl counted (an expired crawl's stray message), so nothing to do.
    return out.Item?.['state'] !== PENDING;
  }

  async endSitemap(crawlId: string, task: SitemapTask, outcome: SitemapOutcome): Promise<boolean> {
    try {
      await transactWrite(this.t, () => {
        const now = new Date().toISOString();
        return [
          {
            Update: {
              TableName: this.t.name,
              Key: sitemapKey(crawlId, task),
              UpdateExpression: 'SET #state = :done, outcome = :outcome, endedAt = :now',
              ConditionExpression: '#state = :pending',
              ExpressionAttributeNames: { '#state': 'state' },
              ExpressionAttributeValues: { ':done': DONE, ':pending': PENDING, ':outcome': outcome, ':now': now },
            },
          },
          {
            Update: {
              TableName: this.t.name,
              Key: crawlKey(crawlId),
              UpdateExpression: 'ADD sitemapWork :minus SET progressAt = :now',
              ConditionExpression: 'attribute_exists(PK)',
              ExpressionAttributeValues: { ':minus': -1, ':now': now },
            },
          },
        ];
      });
      return true;
    } catch (err) {
      // Ended before (a redelivery, or never counted): an answer, not an error.
      if (cancellationCodesOf(err)?.[0] === 'ConditionalCheckFailed') return false;
      throw err;
    }
  }

  async noteSitemapRetry(crawlId: string, task: SitemapTask, at: string): Promise<void> {
    await conditionHeld(() => updateExisting(this.t, [sitemapKey(crawlId, task)], 'SET retriedAt = :at', { ':at': at }));
  }

  async unfinishedSitemaps(crawlId: string): Promise<UnfinishedSitemap[]> {
    const out: UnfinishedSitemap[] = [];
    for await (const item of queryAll(this.t, {
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': crawlPk(crawlId), ':prefix': SITEMAP_PREFIX },
      ConsistentRead: true,
    })) {
      if (item['state'] !== PENDING || typeof item['url'] !== 'string' || typeof item['origin'] !== 'string') continue;
      out.push({
        origin: item['origin'],
        url: item['url'],
        level: Number(item['level'] ?? 0),
        requeues: Number(item['requeues'] ?? 0),
        ...(typeof item['retriedAt'] === 'string' ? { retriedAt: item['retriedAt'] } : {}),
      });
    }
    return out;
  }

  async markSitemapsRequeued(crawlId: string, tasks: readonly SitemapTask[]): Promise<void> {
    await updateExisting(this.t, tasks.map((task) => sitemapKey(crawlId, task)), 'ADD requeues :one', { ':one': 1 });
  }

  private async read(crawlId: string, tasks: readonly SitemapTask[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    const keys = tasks.map((task) => sitemapKey(crawlId, task));
    await batchGetEach(this.t, keys, { ProjectionExpression: 'SK, parent, #state', ExpressionAttributeNames: { '#state': 'state' } }, (item) => found.set(item['SK'] as string, item));
    return found;
  }

  /** One counted write: the items of these tasks, their count on the crawl and on their origin's budget, or none of it. */
  private async add(
    crawlId: string,
    parent: SitemapTask,
    tasks: readonly SitemapTask[],
  ): Promise<{ kind: 'added' } | { kind: 'taken'; keys: Set<string> } | { kind: 'over'; room: number } | { kind: 'stopped' }> {
    const n = tasks.length;
    const expiresAt = this.t.expiresAt();
    const now = new Date().toISOString();
    try {
      await transactWrite(this.t, () => [
        ...tasks.map((task) => ({
          Put: {
            TableName: this.t.name,
            Item: { ...sitemapKey(crawlId, task), ...task, parent: parent.url, state: PENDING, expiresAt },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        })),
        {
          Update: {
            TableName: this.t.name,
            Key: sitemapKey(crawlId, originTask(parent)),
            UpdateExpression: 'ADD registered :n',
            // registered + n ≤ the budget, without arithmetic.
            ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(registered) OR registered <= :room)',
            ExpressionAttributeValues: { ':n': n, ':room': MAX_SITEMAPS_PER_ORIGIN - n },
          },
        },
        {
          Update: {
            TableName: this.t.name,
            Key: crawlKey(crawlId),
            UpdateExpression: 'ADD sitemapWork :n SET progressAt = :now',
            // No new work for a crawl that is no longer running (cancelled).
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':n': n, ':now': now, ':running': 'running' },
          },
        },
      ]);
      return { kind: 'added' };
    } catch (err) {
      const codes = cancellationCodesOf(err);
      if (!codes) throw err;
      const taken = new Set(tasks.filter((_, i) => codes[i] === 'ConditionalCheckFailed').map((task) => sitemapKey(crawlId, task).SK));
      if (taken.size > 0) return { kind: 'taken', keys: taken };
      if (codes[n + 1] === 'ConditionalCheckFailed') return { kind: 'stopped' };
      if (codes[n] === 'ConditionalCheckFailed') {
        const origin = await this.t.db.send(new GetCommand({ TableName: this.t.name, Key: sitemapKey(crawlId, originTask(parent)), ConsistentRead: true }));
        if (!origin.Item) return { kind: 'stopped' };
        return { kind: 'over', room: MAX_SITEMAPS_PER_ORIGIN - Number(origin.Item['registered'] ?? 0) };
      }
      throw err;
    }
  }
}
