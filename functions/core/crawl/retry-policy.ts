/** When and how often a page is tried again. */
export interface RetryPolicy {
  /** Attempts in all; the same number as the queue's maxReceiveCount, so the last attempt is SQS's last delivery. */
  maxAttempts: number;
  baseDelaySeconds: number;
  maxDelaySeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelaySeconds: 10, maxDelaySeconds: 300 };

/** SQS's ceiling on a message's visibility timeout. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Thrown by the use case when a message should be delivered again later: the handler hides the message for
 * `delaySeconds` and reports it as a batch item failure.
 */
export class RetryLater extends Error {
  constructor(
    readonly delaySeconds: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`retry in ${delaySeconds} s: ${reason}`, options);
    this.name = 'RetryLater';
  }
}

/**
 * The delay before the attempt after `attempt` (1-based). A server's Retry-After wins when it gave one; otherwise
 * exponential backoff with "equal jitter" (half fixed, half random), so retries of one outage spread out. Both capped.
 */
export function retryDelaySeconds(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random = Math.random): number {
  const cap = Math.min(policy.maxDelaySeconds, MAX_VISIBILITY_SECONDS);
  if (retryAfterMs !== undefined) return Math.min(cap, Math.ceil(retryAfterMs / 1000));
  const backoff = Math.min(cap, policy.baseDelaySeconds * 2 ** Math.max(0, attempt - 1));
  return Math.min(cap, Math.round(backoff / 2 + random() * (backoff / 2)));
}
