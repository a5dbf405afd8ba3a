import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCrawlerConfig, readCrawlerConfig } from '../../lib/config.js';
import { crawlQueues } from '../../lib/resources.js';

describe('crawler configuration', () => {
  it('fills safe defaults', () => {
    const config = parseCrawlerConfig({});
    expect(config.fetch).toEqual({ timeoutMs: 10_000, connectTimeoutMs: 5_000, headersTimeoutMs: 8_000, maxBodyBytes: 5 * 1024 * 1024, maxRedirects: 5 });
    expect(config.retry).toEqual({ baseDelaySeconds: 10, maxDelaySeconds: 300 });
    expect(config.queue.maxReceiveCount).toBe(5);
    expect(config.consumer.batchSize).toBe(16);
    expect(config.consumer.parseThreads).toBe(0);
    expect(config.schedules).toEqual([]);
  });

  it('reads the shipped cdk.json, whose example schedule is disabled', () => {
    const config = readCrawlerConfig(fileURLToPath(new URL('../../cdk.json', import.meta.url)));
    expect(config.schedules.length).toBeGreaterThan(0);
    expect(config.schedules.every((s) => s.enabled === false)).toBe(true);
  });

  it('rejects bad values with a readable message', () => {
    expect(() => parseCrawlerConfig({ consumer: { batchSize: 0 } })).toThrow(/consumer\.batchSize/);
    expect(() => parseCrawlerConfig({ consumr: {} })).toThrow(/consumr/);
    expect(() => parseCrawlerConfig({ schedules: [{ name: 'x', expression: 'daily', crawl: { urls: ['https://a.example/'] } }] })).toThrow(/expression/);
    const dup = { name: 'same', expression: 'rate(1 day)', crawl: { urls: ['https://a.example/'] } };
    expect(() => parseCrawlerConfig({ schedules: [dup, dup] })).toThrow(/used twice/);
  });

  it("takes every crawl request field in a schedule's crawl, and refuses a webhook that is not http(s) at synth time", () => {
    const crawl = { urls: ['https://a.example/'], name: 'docs', webhook: { url: 'https://hooks.example/in', events: ['page.changed'] }, include: ['https://a.example/**'] };
    const [schedule] = parseCrawlerConfig({ schedules: [{ name: 'nightly', expression: 'rate(1 day)', crawl }] }).schedules;
    expect(schedule!.crawl).toMatchObject({ name: 'docs', webhook: { url: 'https://hooks.example/in', events: ['page.changed'] } });
    const bad = { ...crawl, webhook: { url: 'ftp://hooks.example/in' } };
    expect(() => parseCrawlerConfig({ schedules: [{ name: 'nightly', expression: 'rate(1 day)', crawl: bad }] })).toThrow(/schedule "nightly" has a webhook\.url/);
  });

  it('refuses a batch that cannot finish within the function timeout', () => {
    expect(() => parseCrawlerConfig({ consumer: { batchSize: 100, pageConcurrency: 16, timeoutSeconds: 60, maxBatchingWindowSeconds: 1 } })).toThrow(
      /can take 72 s, more than consumer\.timeoutSeconds \(60\)/,
    );
    expect(() => parseCrawlerConfig({ consumer: { batchSize: 100, pageConcurrency: 50, timeoutSeconds: 60, maxBatchingWindowSeconds: 1 } })).not.toThrow();
  });

  it('requires a batching window for batches over 10, as Lambda does', () => {
    expect(() => parseCrawlerConfig({ consumer: { batchSize: 11, maxBatchingWindowSeconds: 0 } })).toThrow(/maxBatchingWindowSeconds/);
  });

  it('reconciles a crawl after 15 quiet minutes, 3 requeues at most, and never while a URL may be waiting out its retry', () => {
    expect(parseCrawlerConfig({}).reconcile).toEqual({ afterSeconds: 900, maxRequeues: 3 });
    expect(() => parseCrawlerConfig({ reconcile: { afterSeconds: 300 } })).toThrow(/reconcile\.afterSeconds \(300\) must be longer than retry\.maxDelaySeconds \(300\)/);
    expect(() => parseCrawlerConfig({ reconcile: { afterSeconds: 8 }, retry: { maxDelaySeconds: 1 } })).not.toThrow();
  });

  it('is polite by default: 1 s between requests to a host, Crawl-delay honoured up to 30 s, 10,000 pages a crawl, our own User-Agent', () => {
    const config = parseCrawlerConfig({});
    expect(config.politeness).toEqual({ hostDelayMs: 1_000, maxCrawlDelaySeconds: 30, maxThrottleMs: 60_000 });
    expect(config.limits).toEqual({ maxPagesPerCrawl: 10_000 });
    expect(config.userAgent).toMatch(/^serverless-crawler\/\d+\.\d+\.\d+ \(\+https:\/\/.+\)$/);
  });

  it('refuses a User-Agent without a product token or unfit for a header, and a schedule over the page limit', () => {
    expect(() => parseCrawlerConfig({ userAgent: '(compatible)' })).toThrow(/product token[\s\S]*userAgent/);
    expect(() => parseCrawlerConfig({ userAgent: 'mybot/1.0\r\nX-Injected: 1' })).toThrow(/printable ASCII[\s\S]*userAgent/);
    expect(parseCrawlerConfig({ userAgent: 'mybot/1.0 (+https://example.com/bot)' }).userAgent).toBe('mybot/1.0 (+https://example.com/bot)');
    const big = { name: 'big', expression: 'rate(1 day)', crawl: { urls: ['https://a.example/'], maxPages: 20_000 } };
    expect(() => parseCrawlerConfig({ schedules: [big] })).toThrow(/schedule "big" asks for maxPages 20000, over limits\.maxPagesPerCrawl \(10000\)/);
    expect(() => parseCrawlerConfig({ schedules: [big], limits: { maxPagesPerCrawl: 20_000 } })).not.toThrow();
  });

  it("the default User-Agent's version is package.json's", async () => {
    const { DEFAULT_USER_AGENT } = await import('../../functions/core/fetch/user-agent.js');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(DEFAULT_USER_AGENT.startsWith(`serverless-crawler/${pkg.version} `)).toBe(true);
  });

  it('derives the queue visibility timeout as 6× the consumer timeout', () => {
    const config = parseCrawlerConfig({ consumer: { timeoutSeconds: 45 } });
    expect(crawlQueues(config).queue.visibilityTimeoutSeconds).toBe(270);
  });
});
