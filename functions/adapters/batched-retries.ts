import { setTimeout as sleep } from 'node:timers/promises';

/** The services' most entries per batch call (PutEvents, SendMessageBatch). */
export const MAX_BATCH_ENTRIES = 10;

/**
 * Sends `items` in batches of at most MAX_BATCH_ENTRIES, all batches at once. `sendBatch` sends one batch and resolves
 * to the indexes (within it) of the entries the service reported failed; those, or the whole batch when the call
 * throws (throttling, network), are tried again up to `retries` more times after a short jittered backoff. Resolves
 * to the items that never went.
 */
export async function sendInBatches<T>(items: readonly T[], retries: number, sendBatch: (batch: T[]) => Promise<Set<number>>): Promise<T[]> {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH_ENTRIES) batches.push(items.slice(i, i + MAX_BATCH_ENTRIES));
  const unsent = await Promise.all(
    batches.map(async (batch) => {
      let pending = batch;
      for (let attempt = 0; attempt <= retries && pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.random() * 100 * 2 ** attempt);
        try {
          const failed = await sendBatch(pending);
          pending = pending.filter((_, i) => failed.has(i));
        } catch {
          // The whole call failed: every entry is tried again.
        }
      }
      return pending;
    }),
  );
  return unsent.flat();
}
