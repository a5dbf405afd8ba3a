import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** Invokes the consumer function once with a batch (the local stack runs it in a container, with its timeout). */
export type SqsInvoke = (event: SQSEvent) => Promise<SQSBatchResponse | null | void>;

export interface EventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  invoke: SqsInvoke;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Concurrent invocations at most, as the event source mapping's maximumConcurrency. */
  maxConcurrency: number;
  /** The queue's visibility timeout, which Lambda's poller applies to every receive. */
  visibilityTimeoutSeconds: number;
  onBatch?: (info: { records: number; failures: number; error?: unknown }) => void;
}

export interface RunningEventSource {
  stop(): Promise<void>;
  /**
   * Disables or enables polling, as an event source mapping's `Enabled` does: batches already handed to the function
   * finish, and no new ones start until it is enabled again. Resolves once every poller has settled: no receive still
   * in flight can hand a batch to the function after that.
   */
  setEnabled(enabled: boolean): Promise<void>;
  /** Batches handed to the handler so far. */
  readonly invocations: number;
}

/**
 * Feeds the consumer as Lambda's SQS event source mapping does: polls, fills a batch up to batchSize within the
 * batching window, invokes the handler, deletes only the records not reported in batchItemFailures (none if the
 * handler throws or times out). Failed records reappear after the visibility timeout; SQS's redrive policy moves them
 * to the DLQ after maxReceiveCount.
 */
export function startEventSource(options: EventSourceOptions): RunningEventSource {
  const abort = new AbortController();
  // Every poller's in-flight receive listens on this one signal.
  setMaxListeners(options.maxConcurrency * 2 + 10, abort.signal);
  let invocations = 0;

  /**
   * Real SQS ends a long poll as soon as messages arrive; local-aws-sqs holds it for the whole WaitTimeSeconds. So
   * this polls with WaitTimeSeconds 0 (answered in ~40 ms) and backs off while the queue is idle, which gives the
   * same latency as a long poll without holding 20 requests open.
   */
  async function receiveBatch(): Promise<Message[]> {
    const byId = new Map<string, Message>();
    const windowMs = options.maxBatchingWindowSeconds * 1000;
    let deadline = Infinity;
    let idleMs = 0;
    while (byId.size < options.batchSize && !abort.signal.aborted && enabled) {
      if (byId.size > 0 && Date.now() >= deadline) break;
      const out = await options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: Math.min(10, options.batchSize - byId.size),
          WaitTimeSeconds: 0,
          // Explicit, as Lambda's poller gets it from the queue: local-aws-sqs otherwise keeps applying a visibility the
          // handler set with ChangeMessageVisibility to later receives of that message, which real SQS does not.
          VisibilityTimeout: options.visibilityTimeoutSeconds,
          AttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: abort.signal },
      );
      const got = out.Messages ?? [];
      // The newest receipt of a message wins; Lambda never hands one message twice in a batch.
      for (const m of got) if (m.MessageId) byId.set(m.MessageId, m);
      if (byId.size > 0 && deadline === Infinity) deadline = Date.now() + windowMs;
      if (got.length > 0) {
        idleMs = 0;
        continue;
      }
      // Nothing came: with a partial batch, wait a little for more (within the window); idle, back off up to 250 ms.
      idleMs = Math.min(250, Math.max(20, idleMs * 2));
      const pause = byId.size > 0 ? Math.min(idleMs, Math.max(0, deadline - Date.now())) : idleMs;
      await sleep(pause, undefined, { signal: abort.signal }).catch(() => undefined);
    }
    return [...byId.values()];
  }

  function toRecord(m: Message): SQSRecord {
    const a = m.Attributes ?? {};
    return {
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: a['ApproximateReceiveCount'] ?? '1',
        SentTimestamp: a['SentTimestamp'] ?? String(Date.now()),
        SenderId: a['SenderId'] ?? 'local',
        ApproximateFirstReceiveTimestamp: a['ApproximateFirstReceiveTimestamp'] ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: options.queueArn,
      awsRegion: options.region,
    };
  }

  /** Deletes still in flight: a disable and stop wait for them. */
  const deletes = new Set<Promise<unknown>>();

  async function invoke(messages: Message[]): Promise<void> {
    const records = messages.map(toRecord);
    let failedIds: Set<string>;
    let error: unknown;
    try {
      invocations++;
      const result = await options.invoke({ Records: records });
      failedIds = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      // A throw, a crash or a timeout of the function fails the whole batch: nothing is deleted.
      error = err;
      failedIds = new Set(records.map((r) => r.messageId));
    }
    const done = messages.filter((m) => !failedIds.has(m.MessageId!));
    // Deleted while the poller goes on to its next batch, as Lambda's pollers do: the function's next invocation
    // does not wait for them (a message not yet deleted stays invisible for the queue's visibility timeout).
    const deleting = (async () => {
      for (let i = 0; i < done.length; i += 10) {
        await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: done.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      }
      options.onBatch?.({ records: records.length, failures: failedIds.size, ...(error ? { error } : {}) });
    })().catch((err: unknown) => options.onBatch?.({ records: records.length, failures: failedIds.size, error: err }));
    deletes.add(deleting);
    void deleting.finally(() => deletes.delete(deleting));
  }

  let enabled = true;
  /** Pollers parked by a disable (neither receiving nor invoking). */
  let parked = 0;
  async function poller(): Promise<void> {
    while (!abort.signal.aborted) {
      if (!enabled) {
        parked++;
        await sleep(100, undefined, { signal: abort.signal }).catch(() => undefined);
        parked--;
        continue;
      }
      try {
        const messages = await receiveBatch();
        if (messages.length > 0) await invoke(messages);
      } catch (err) {
        if (abort.signal.aborted) return;
        options.onBatch?.({ records: 0, failures: 0, error: err });
        await sleep(500);
      }
    }
  }

  const pollers = Array.from({ length: options.maxConcurrency }, () => poller());
  return {
    get invocations() {
      return invocations;
    },
    setEnabled: async (value) => {
      enabled = value;
      // A receive that was in flight may still come back with messages and hand them to the function: wait until
      // every poller has come round to the flag.
      while (!value && parked < options.maxConcurrency && !abort.signal.aborted) await sleep(20);
      if (!value) await Promise.allSettled([...deletes]);
    },
    stop: async () => {
      abort.abort();
      await Promise.allSettled(pollers);
      await Promise.allSettled([...deletes]);
    },
  };
}
