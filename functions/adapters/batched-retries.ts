import { setTimeout as sleep } from 'node:timers/promises';

/** The services' most entries per batch call (PutEvents, SendMessageBatch). */
export const MAX_BATCH_ENTRIES = 10;

/** A service's limit on one batch call's size: the sizes of its entries, as the service counts them, added up. */
export interface BatchBytes<T> {
  max: number;
  sizeOf: (item: T) => number;
  /** Told of an item over `max` on its own: no call can carry it, so it is given back untried. */
  onTooLarge?: (item: T, bytes: number) => void;
}

/**
 * Sends `items` in batches of at most MAX_BATCH_ENTRIES (and `bytes.max`, if given), all batches at once. `sendBatch`
 * sends one batch and resolves to the indexes (within it) of the entries the service reported failed; those, or the
 * whole batch when the call throws (throttling, network), are tried again up to `retries` more times after a short
 * jittered backoff. Resolves to the items that never went, among them any item over `bytes.max` on its own, which is
 * never tried.
 */
export async function sendInBatches<T>(
  items: readonly T[],
  retries: number,
  sendBatch: (batch: T[]) => Promise<Set<number>>,
  bytes?: BatchBytes<T>,
): Promise<T[]> {
  const { batches, tooLarge } = batchesOf(items, bytes);
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
  return [...tooLarge, ...unsent.flat()];
}

/** The items in order, cut into batches within both limits; an item over the byte limit alone goes in none. */
function batchesOf<T>(items: readonly T[], bytes: BatchBytes<T> | undefined): { batches: T[][]; tooLarge: T[] } {
  const max = bytes?.max ?? Infinity;
  const batches: T[][] = [];
  const tooLarge: T[] = [];
  let batch: T[] = [];
  let batchBytes = 0;
  for (const item of items) {
    const size = bytes?.sizeOf(item) ?? 0;
    if (size > max) {
      tooLarge.push(item);
      bytes?.onTooLarge?.(item, size);
      continue;
    }
    if (batch.length === MAX_BATCH_ENTRIES || batchBytes + size > max) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push(item);
    batchBytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return { batches, tooLarge };
}
