import { describe, expect, it } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { functionDefinitions } from '../../lib/function-definitions.js';
import { DEFAULT_RETRY_BASE_SECONDS } from '../../functions/core/webhooks/retry-schedule.js';

describe('webhooks configuration', () => {
  it("refuses a batch of deliveries that may not fit in the deliver function's timeout, saying what to change", () => {
    expect(() => parseCrawlerConfig({ webhooks: { batchSize: 10, concurrency: 1, timeoutMs: 10_000 } })).toThrow(
      /a batch of 10 webhook deliveries, 1 at once with a 10000 ms deadline, can take 102 s, more than the deliver function's 60 s/,
    );
    expect(() => parseCrawlerConfig({ webhooks: { batchSize: 10, concurrency: 2, timeoutMs: 10_000 } })).not.toThrow();
  });

  it("gives the deliver function the configured values, the retry base among them", () => {
    const deliver = functionDefinitions(parseCrawlerConfig({ webhooks: { retryBaseSeconds: 1, concurrency: 4, timeoutMs: 2_000 } })).deliver;
    expect(deliver.environment).toMatchObject({ WEBHOOK_RETRY_BASE_SECONDS: '1', WEBHOOK_CONCURRENCY: '4', WEBHOOK_TIMEOUT_MS: '2000' });
    expect(functionDefinitions(parseCrawlerConfig({})).deliver.environment['WEBHOOK_RETRY_BASE_SECONDS']).toBe(String(DEFAULT_RETRY_BASE_SECONDS));
  });
});
