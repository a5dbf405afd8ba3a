import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type AttributeValue,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { checkPattern, matchesPattern, type EventPattern } from './event-pattern.js';

/** Invokes the function once with a batch of stream records (the local stack runs it in a container, with its timeout). */
export type StreamInvoke = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | null | void>;

/** What Lambda sends the on-failure destination about a batch it gave up on: where it was, not its records. */
export interface StreamBatchFailure {
  DDBStreamBatchInfo: { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number; streamArn: string };
  requestContext: { condition: 'RetryAttemptsExhausted'; approximateInvokeCount: number };
  timestamp: string;
}

export interface StreamSourceOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  region: string;
  invoke: StreamInvoke;
  /** Lambda's filter patterns: only the records one of them matches are given to the function. */
  filters: readonly EventPattern[];
  batchSize: number;
  /** Split a batch whose invocation failed in two, and retry each half. */
  bisectBatchOnError: boolean;
  /** Retries of a failing batch before it is given up (described to onFailure) and the shard moves on. */
  retryAttempts: number;
  onFailure: (failure: StreamBatchFailure) => Promise<void>;
  onBatch?: (info: { records: number; failures: number; error?: unknown }) => void;
  /** How long an idle shard waits before asking again (Lambda polls a shard four times a second). */
  pollIntervalMs?: number;
}

export interface RunningStreamSource {
  /** Batches handed to the function so far. */
  readonly invocations: number;
  stop(): Promise<void>;
}

/**
 * Feeds a function from a DynamoDB stream as Lambda's DynamoDB event source does: reads each shard in order from its
 * oldest record (a child shard after its parent), keeps the records the filters match, invokes the function with
 * batches of them in Lambda's event format (images in DynamoDB JSON), one batch per shard at a time. A batch that
 * reports batchItemFailures is retried from the first failed record; one that throws is split in two (bisect) and
 * each half retried; after retryAttempts the batch is described to onFailure and the shard goes on. A shard whose
 * reading failed (GetRecords threw, its iterator expired) is read again after the last record it handed over.
 */
export function startStreamSource(options: StreamSourceOptions): RunningStreamSource {
  for (const filter of options.filters) checkPattern(filter);
  const abort = new AbortController();
  const pollMs = options.pollIntervalMs ?? 250;
  let invocations = 0;
  const shardWorkers = new Map<string, Promise<void>>();
  /** Per shard, the last record handed over (delivered, given up to onFailure, or filtered out): a restart resumes after it. */
  const readUpTo = new Map<string, string>();

  const pause = (ms: number) => sleep(ms, undefined, { signal: abort.signal }).catch(() => undefined);

  async function readShard(shard: Shard): Promise<void> {
    // A child shard's records follow its parent's: read them once the parent is done.
    const parent = shard.ParentShardId ? shardWorkers.get(shard.ParentShardId) : undefined;
    if (parent) await parent;
    const shardId = shard.ShardId!;
    const after = readUpTo.get(shardId);
    const position = after ? ({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } as const) : ({ ShardIteratorType: 'TRIM_HORIZON' } as const);
    let iterator = (
      await options.streams.send(new GetShardIteratorCommand({ StreamArn: options.streamArn, ShardId: shardId, ...position }), { abortSignal: abort.signal })
    ).ShardIterator;
    while (iterator && !abort.signal.aborted) {
      const out = await options.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }), { abortSignal: abort.signal });
      const records = (out.Records ?? []).map((r) => lambdaRecord(r, options)).filter((r) => options.filters.some((f) => matchesPattern(f, r)));
      for (let i = 0; i < records.length && !abort.signal.aborted; i += options.batchSize) {
        const batch = records.slice(i, i + options.batchSize);
        await deliver(shardId, batch, 0);
        readUpTo.set(shardId, batch.at(-1)!.dynamodb!.SequenceNumber!);
      }
      const last = out.Records?.at(-1)?.dynamodb?.SequenceNumber;
      if (last) readUpTo.set(shardId, last);
      iterator = out.NextShardIterator;
      if ((out.Records ?? []).length === 0) await pause(pollMs);
    }
  }

  /** One batch until it succeeds or its retries run out. */
  async function deliver(shardId: string, batch: DynamoDBRecord[], retriesBefore: number): Promise<void> {
    let pending = batch;
    for (let retries = retriesBefore; pending.length > 0 && !abort.signal.aborted; retries++) {
      let failedFrom = -1;
      let error: unknown;
      try {
        invocations++;
        const result = await options.invoke({ Records: pending });
        const failedIds = (result?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
        if (failedIds.length > 0) {
          const indexes = failedIds.map((id) => pending.findIndex((r) => r.dynamodb?.SequenceNumber === id));
          // Lambda retries from the lowest failed sequence number; an identifier not in the batch fails all of it.
          failedFrom = indexes.some((i) => i < 0) ? 0 : Math.min(...indexes);
        }
      } catch (err) {
        error = err;
        failedFrom = 0;
      }
      options.onBatch?.({ records: pending.length, failures: failedFrom < 0 ? 0 : pending.length - failedFrom, ...(error ? { error } : {}) });
      if (failedFrom < 0) return;
      if (retries >= options.retryAttempts) {
        await options.onFailure(failureOf(shardId, pending.slice(failedFrom), retries + 1));
        return;
      }
      await pause(Math.min(1_000, 50 * 2 ** retries));
      if (error && options.bisectBatchOnError && pending.length > 1) {
        const half = Math.ceil(pending.length / 2);
        await deliver(shardId, pending.slice(0, half), retries + 1);
        await deliver(shardId, pending.slice(half), retries + 1);
        return;
      }
      pending = pending.slice(failedFrom);
    }
  }

  function failureOf(shardId: string, batch: DynamoDBRecord[], invokes: number): StreamBatchFailure {
    return {
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: batch[0]!.dynamodb!.SequenceNumber!,
        endSequenceNumber: batch.at(-1)!.dynamodb!.SequenceNumber!,
        batchSize: batch.length,
        streamArn: options.streamArn,
      },
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: invokes },
      timestamp: new Date().toISOString(),
    };
  }

  /** Starts a reader for each shard not seen yet, as the stream adds them. */
  async function watchShards(): Promise<void> {
    while (!abort.signal.aborted) {
      try {
        const description = await options.streams.send(new DescribeStreamCommand({ StreamArn: options.streamArn }), { abortSignal: abort.signal });
        for (const shard of description.StreamDescription?.Shards ?? []) {
          if (shardWorkers.has(shard.ShardId!)) continue;
          const worker = readShard(shard).catch((err: unknown) => {
            if (!abort.signal.aborted) options.onBatch?.({ records: 0, failures: 0, error: err });
            // Read again on the next look, after the last record handed over: none is given twice, none skipped.
            shardWorkers.delete(shard.ShardId!);
          });
          shardWorkers.set(shard.ShardId!, worker);
        }
      } catch (err) {
        if (!abort.signal.aborted) options.onBatch?.({ records: 0, failures: 0, error: err });
      }
      await pause(1_000);
    }
  }

  const watcher = watchShards();
  return {
    get invocations() {
      return invocations;
    },
    stop: async () => {
      abort.abort();
      await watcher;
      await Promise.allSettled(shardWorkers.values());
    },
  };
}

/** A record as Lambda gives it to the function: JSON, binary attributes in base64, the time in epoch seconds. */
function lambdaRecord(record: _Record, options: Pick<StreamSourceOptions, 'region' | 'streamArn'>): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  return {
    eventID: record.eventID!,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: options.region,
    eventSourceARN: options.streamArn,
    dynamodb: {
      ...(stream.ApproximateCreationDateTime ? { ApproximateCreationDateTime: stream.ApproximateCreationDateTime.getTime() / 1000 } : {}),
      ...(stream.Keys ? { Keys: jsonAttributes(stream.Keys) } : {}),
      ...(stream.NewImage ? { NewImage: jsonAttributes(stream.NewImage) } : {}),
      ...(stream.OldImage ? { OldImage: jsonAttributes(stream.OldImage) } : {}),
      SequenceNumber: stream.SequenceNumber!,
      SizeBytes: stream.SizeBytes ?? 0,
      StreamViewType: stream.StreamViewType as NonNullable<DynamoDBRecord['dynamodb']>['StreamViewType'],
    },
  };
}

type JsonAttributes = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['Keys']>;

function jsonAttributes(item: Record<string, AttributeValue>): JsonAttributes {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, jsonAttribute(value)])) as JsonAttributes;
}

/** Lambda's JSON of an attribute value: binary as base64, maps and lists all the way down. */
function jsonAttribute(value: AttributeValue): unknown {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: jsonAttributes(value.M) };
  if (value.L !== undefined) return { L: value.L.map(jsonAttribute) };
  return value;
}
