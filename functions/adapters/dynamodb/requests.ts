// Invariant: no call gives up on work DynamoDB left undone (unprocessed batch items, conflicting transactions are
// retried), and a failed condition is an answer to the caller, never mistaken for an outage.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';

/** The table a module reads and writes, through one document client. */
export interface TableRef {
  readonly db: DynamoDBDocumentClient;
  readonly name: string;
}

/** …and, for the modules that write items, when an item written now expires (epoch seconds: the retention). */
export interface StoreTable extends TableRef {
  expiresAt(): number;
}

export type Key = Record<string, unknown>;
/** Which attributes a read returns. */
export interface Projection {
  ProjectionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
}
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB limits: 100 keys in a BatchGet, 25 items in a BatchWrite. (A transaction's: URLS_PER_COUNTED_WRITE.) */
const BATCH_GET_KEYS = 100;
const BATCH_WRITE_ITEMS = 25;
/** Single-item updates in flight at once, where an update has no batch form. */
const UPDATES_IN_FLIGHT = 16;

export function createDocumentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const isConditionFailureError = (err: unknown) => err instanceof ConditionalCheckFailedException;

/** Runs a conditional write: true when it was written, false when its condition failed; any other error is thrown. */
export async function conditionHeld(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (isConditionFailureError(err)) return false;
    throw err;
  }
}

/** Per item of a cancelled transaction, why (`ConditionalCheckFailed`, `None`…); null when `err` is anything else. */
export function cancellationCodesOf(err: unknown): string[] | null {
  if (!(err instanceof TransactionCanceledException)) return null;
  return (err.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
}

/**
 * One transaction, its items built anew for each try (their times are the try's). Transactions on the hot crawl item
 * conflict under concurrency; DynamoDB says retry with backoff (capped at 1 s, 16 tries: a busy crawl item is the
 * normal case, not an outage).
 */
export async function transactWrite(t: TableRef, items: () => TransactItem[], attempts = 16): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await t.db.send(new TransactWriteCommand({ TransactItems: items() }));
      return;
    } catch (err) {
      const conflict = cancellationCodesOf(err)?.includes('TransactionConflict') ?? false;
      if (!conflict || attempt >= attempts) throw err;
      await sleep(Math.random() * Math.min(1_000, 20 * 2 ** attempt));
    }
  }
}

/** Repeats a batch call with what DynamoDB left unprocessed, backing off, until nothing is left. */
async function untilProcessed<T>(items: T[], what: string, call: (pending: T[]) => Promise<T[] | undefined>): Promise<void> {
  let pending: T[] | undefined = items;
  for (let attempt = 0; pending && pending.length > 0; attempt++) {
    if (attempt > 8) throw new Error(`DynamoDB kept ${what} unprocessed after retries`);
    if (attempt > 0) await sleep(Math.min(2_000, 50 * 2 ** attempt));
    pending = await call(pending);
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Writes these put/delete requests, 25 a call, the calls at once, repeating what DynamoDB left unprocessed. */
export async function batchWrite(t: TableRef, requests: Record<string, unknown>[]): Promise<void> {
  await Promise.all(
    chunk(requests, BATCH_WRITE_ITEMS).map((group) =>
      untilProcessed(group, 'items', async (pending) => {
        const out = await t.db.send(new BatchWriteCommand({ RequestItems: { [t.name]: pending as never } }));
        return out.UnprocessedItems?.[t.name] as Record<string, unknown>[] | undefined;
      }),
    ),
  );
}

/** Strongly consistent reads of these keys, 100 a call, repeating what DynamoDB left unprocessed; `onItem` sees each item found. */
export async function batchGetEach(
  t: TableRef,
  keys: Key[],
  read: Projection | Record<string, never>,
  onItem: (item: Record<string, unknown>) => void,
): Promise<void> {
  for (const group of chunk(keys, BATCH_GET_KEYS)) {
    await untilProcessed(group, 'keys', async (pending) => {
      const out = await t.db.send(new BatchGetCommand({ RequestItems: { [t.name]: { Keys: pending, ConsistentRead: true, ...read } } }));
      for (const item of out.Responses?.[t.name] ?? []) onItem(item);
      return out.UnprocessedKeys?.[t.name]?.Keys as Key[] | undefined;
    });
  }
}

/** Every item a query matches, page after page. */
export async function* queryAll(t: TableRef, input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): AsyncGenerator<Record<string, unknown>> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await t.db.send(new QueryCommand({ ...input, TableName: t.name, ...(start ? { ExclusiveStartKey: start } : {}) }));
    yield* out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start);
}

/** Whether an item exists: one strongly consistent read of its key only. */
export async function itemExists(t: TableRef, key: Key): Promise<boolean> {
  const out = await t.db.send(new GetCommand({ TableName: t.name, Key: key, ProjectionExpression: 'PK', ConsistentRead: true }));
  return out.Item !== undefined;
}

/** Runs `each` on every item, 16 at a time (an item update has no batch form); the results in the items' order. */
export function eachUpdate<T, R>(items: readonly T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(UPDATES_IN_FLIGHT);
  return Promise.all(items.map((item) => limit(() => each(item))));
}

/** The same update of each of these existing items (one that does not exist fails the whole call with a condition failure). */
export async function updateExisting(t: TableRef, keys: readonly Key[], updateExpression: string, values: Record<string, unknown>): Promise<void> {
  await eachUpdate(keys, (Key) =>
    t.db.send(
      new UpdateCommand({
        TableName: t.name,
        Key,
        UpdateExpression: updateExpression,
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: values,
      }),
    ),
  );
}
