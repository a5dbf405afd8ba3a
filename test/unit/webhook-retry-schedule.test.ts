import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_BASE_SECONDS,
  MAX_RETRY_BASE_SECONDS,
  MIN_RETRY_SPAN_SECONDS,
  retryDelays,
  retryDelaySeconds,
  WEBHOOK_MAX_RECEIVE_COUNT,
} from '../../functions/core/webhooks/retry-schedule.js';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('the webhook retry schedule', () => {
  it('retries a failing receiver for at least an hour before the last receive, which is the queue maxReceiveCount', () => {
    expect(MIN_RETRY_SPAN_SECONDS).toBe(3600);
    expect(sum(retryDelays(WEBHOOK_MAX_RECEIVE_COUNT))).toBeGreaterThanOrEqual(3600);
  });

  it('asks for no more receives than the hour needs', () => {
    expect(sum(retryDelays(WEBHOOK_MAX_RECEIVE_COUNT - 1))).toBeLessThan(3600);
  });

  it('backs off from 30 s to 15 min, and stays at 15 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => retryDelaySeconds(n))).toEqual([30, 60, 120, 300, 600, 900, 900, 900]);
  });

  it('never decreases, and every delay is one SQS can hide a message for', () => {
    const delays = retryDelays(WEBHOOK_MAX_RECEIVE_COUNT + 5);
    delays.forEach((delay, i) => expect(delay).toBeGreaterThanOrEqual(delays[i - 1] ?? 0));
    expect(Math.max(...retryDelays(50, MAX_RETRY_BASE_SECONDS))).toBeLessThanOrEqual(43_200);
  });

  it('scales every delay with the base, so tests can make it small', () => {
    expect(retryDelays(4, 1)).toEqual([1, 2, 4]);
    expect(retryDelays(4, 0)).toEqual([0, 0, 0]);
    expect(retryDelays(4)).toEqual(retryDelays(4, DEFAULT_RETRY_BASE_SECONDS));
  });
});
