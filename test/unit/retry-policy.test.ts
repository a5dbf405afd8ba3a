import { describe, expect, it } from 'vitest';
import { isTransientStatus, parseRetryAfter } from '../../functions/core/fetch/transient-failure.js';
import { retryDelaySeconds } from '../../functions/core/crawl/retry-policy.js';

const policy = { maxAttempts: 5, baseDelaySeconds: 10, maxDelaySeconds: 300 };

describe('retry policy', () => {
  it('backs off exponentially with equal jitter: half fixed, half random', () => {
    expect([1, 2, 3, 4].map((a) => retryDelaySeconds(policy, a, undefined, () => 0))).toEqual([5, 10, 20, 40]);
    expect([1, 2, 3, 4].map((a) => retryDelaySeconds(policy, a, undefined, () => 0.999))).toEqual([10, 20, 40, 80]);
  });

  it('caps the backoff, and a Retry-After, at maxDelaySeconds', () => {
    expect(retryDelaySeconds(policy, 20, undefined, () => 1)).toBe(300);
    expect(retryDelaySeconds(policy, 1, 3_600_000)).toBe(300);
    expect(retryDelaySeconds({ ...policy, maxDelaySeconds: 86_400 }, 1, 86_400_000)).toBe(43_200);
  });

  it('follows a Retry-After under the cap, rounding up to whole seconds', () => {
    expect(retryDelaySeconds(policy, 1, 7_000)).toBe(7);
    expect(retryDelaySeconds(policy, 3, 1_500)).toBe(2);
    expect(retryDelaySeconds(policy, 3, 0)).toBe(0);
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores anything else', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 09:00:00 GMT', now)).toBe(0);
    for (const bad of [null, '', '-5', '1.5', 'soon', '12abc']) expect([bad, parseRetryAfter(bad, now)]).toEqual([bad, undefined]);
  });

  it('retries overload and server errors, not client errors', () => {
    expect([408, 429, 500, 502, 503, 504, 599].filter(isTransientStatus)).toEqual([408, 429, 500, 502, 503, 504, 599]);
    expect([400, 401, 403, 404, 410, 451, 501, 505].filter(isTransientStatus)).toEqual([]);
  });
});
