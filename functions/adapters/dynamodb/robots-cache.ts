// Invariant (robots.txt cache): an origin's robots.txt is fetched by one consumer at a time — the holder of the item's
// lease, taken only while no usable record is stored — and its record is used by every consumer and crawl until its
// validUntil, at most 24 hours after the fetch (RFC 9309 §2.4); an expired record is never used. The record is stored
// compressed; one too large for an item (DynamoDB's 400 KB, which 500 KiB of hostile rules can exceed) is not stored
// but marked unshared until its validUntil, and each consumer then keeps the copy it fetched.
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RobotsStore, StoredRobots } from '../../core/polite/ports.js';
import type { RobotsRecord } from '../../core/polite/robots-gate.js';
import { robotsKey } from './keys.js';
import { conditionHeld, type TableRef } from './requests.js';

/** The compressed record's cap: an item holds at most 400 KB, keys and other attributes included. */
export const MAX_STORED_RECORD_BYTES = 350_000;
/** The item outlives its record by this much (DynamoDB TTL deletes it some time after; readers check validUntil). */
const TTL_AFTER_VALID_SECONDS = 3600;

export class DynamoRobotsStore implements RobotsStore {
  constructor(private readonly t: TableRef) {}

  async get(origin: string, now: number): Promise<StoredRobots> {
    const out = await this.t.db.send(new GetCommand({ TableName: this.t.name, Key: robotsKey(origin) }));
    return stored(out.Item ?? {}, now);
  }

  async lease(origin: string, owner: string, until: number, now: number): Promise<{ taken: true } | ({ taken: false } & StoredRobots)> {
    try {
      await this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: robotsKey(origin),
          UpdateExpression: 'SET leaseUntil = :until, leaseOwner = :owner, expiresAt = if_not_exists(expiresAt, :expires)',
          ConditionExpression:
            '(attribute_not_exists(validUntil) OR validUntil <= :now) AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now) ' +
            'AND (attribute_not_exists(unsharedUntil) OR unsharedUntil <= :now)',
          ExpressionAttributeValues: { ':until': until, ':owner': owner, ':now': now, ':expires': Math.ceil(until / 1000) + TTL_AFTER_VALID_SECONDS },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { taken: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return { taken: false, ...stored(unmarshalled(err.Item ?? {}), now) };
    }
  }

  async put(record: RobotsRecord): Promise<'shared' | 'unshared'> {
    const compressed = brotliCompressSync(JSON.stringify(record), { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
    const shared = compressed.length <= MAX_STORED_RECORD_BYTES;
    const item = {
      ...robotsKey(record.origin),
      origin: record.origin,
      fetchedAt: new Date(record.fetchedAt).toISOString(),
      validUntil: record.validUntil,
      ...(shared ? { record: compressed } : { unsharedUntil: record.validUntil }),
      expiresAt: Math.ceil(record.validUntil / 1000) + TTL_AFTER_VALID_SECONDS,
    };
    // A whole new item: the lease ends with it. Two fetchers (a lease that ran out) both write a fresh record.
    await this.t.db.send(new PutCommand({ TableName: this.t.name, Item: item }));
    return shared ? 'shared' : 'unshared';
  }

  async release(origin: string, owner: string): Promise<void> {
    await conditionHeld(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: robotsKey(origin),
          UpdateExpression: 'REMOVE leaseUntil, leaseOwner',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      ),
    );
  }
}

function stored(item: Record<string, unknown>, now: number): StoredRobots {
  const num = (name: string) => (typeof item[name] === 'number' ? (item[name] as number) : 0);
  const validUntil = num('validUntil');
  const record = validUntil > now && item['record'] instanceof Uint8Array ? decode(item['record']) : null;
  // A valid record that cannot be read keeps others from the lease until it expires: each reader fetches its own.
  const unreadable = validUntil > now && record === null;
  return {
    record,
    leasedUntil: num('leaseUntil') > now ? num('leaseUntil') : 0,
    unsharedUntil: unreadable ? Math.max(validUntil, num('unsharedUntil')) : num('unsharedUntil') > now ? num('unsharedUntil') : 0,
  };
}

function decode(bytes: Uint8Array): RobotsRecord | null {
  try {
    const record = JSON.parse(brotliDecompressSync(bytes).toString('utf8')) as RobotsRecord;
    return typeof record?.origin === 'string' && typeof record.validUntil === 'number' && Array.isArray(record.rules?.rules) ? record : null;
  } catch {
    return null; // unreadable: as if absent, so it is fetched again
  }
}

/** The attributes `stored` reads, from an item as DynamoDB sends it (a condition failure's item is not unmarshalled). */
function unmarshalled(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    const v = value as { N?: string; B?: Uint8Array; S?: string } | null;
    if (typeof v?.N === 'string') out[name] = Number(v.N);
    else if (v?.B instanceof Uint8Array) out[name] = v.B;
    else if (typeof v?.S === 'string') out[name] = v.S;
  }
  return out;
}
