/**
 * When a webhook delivery that failed is tried again: by the message's receive count, hidden (ChangeMessageVisibility)
 * for a delay that grows to a ceiling. The delays are multiples of a base so tests can make the whole schedule small;
 * at the default base they are 30 s, 1 min, 2 min, 5 min, 10 min, then 15 min each.
 */
export const RETRY_MULTIPLES = [1, 2, 4, 10, 20, 30] as const;
export const DEFAULT_RETRY_BASE_SECONDS = 30;
/** How long, at least, a receiver that keeps failing is retried before a delivery gives up (the contract: an hour). */
export const MIN_RETRY_SPAN_SECONDS = 3600;

/** The delay after the failed delivery with this receive count (1-based); the last multiple repeats. */
export function retryDelaySeconds(receiveCount: number, baseSeconds = DEFAULT_RETRY_BASE_SECONDS): number {
  const index = Math.min(Math.max(1, Math.floor(receiveCount)), RETRY_MULTIPLES.length) - 1;
  return RETRY_MULTIPLES[index]! * baseSeconds;
}

/** The delays before the last receive: one after each of the first maxReceiveCount - 1 receives. */
export function retryDelays(maxReceiveCount: number, baseSeconds = DEFAULT_RETRY_BASE_SECONDS): number[] {
  return Array.from({ length: Math.max(0, maxReceiveCount - 1) }, (_, i) => retryDelaySeconds(i + 1, baseSeconds));
}

/** The fewest receives whose delays add up to the span at the default base: the delivery queue's maxReceiveCount. */
function receivesSpanning(spanSeconds: number): number {
  let receives = 1;
  let waited = 0;
  while (waited < spanSeconds) waited += retryDelaySeconds(receives++);
  return receives;
}

/**
 * The delivery queue's maxReceiveCount (its redrive policy): the receive with this count is a delivery's last, and
 * the one that fails it gives up, so SQS moves the message to the dead-letter queue.
 */
export const WEBHOOK_MAX_RECEIVE_COUNT = receivesSpanning(MIN_RETRY_SPAN_SECONDS);

/** SQS's ceiling on a message's visibility timeout. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** The largest base whose longest delay SQS can still hide a message for. */
export const MAX_RETRY_BASE_SECONDS = Math.floor(MAX_VISIBILITY_SECONDS / Math.max(...RETRY_MULTIPLES));
