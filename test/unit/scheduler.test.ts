import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startScheduler } from '../../local/scheduler.js';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-01-01T00:00:30Z'));
});
afterEach(() => vi.useRealTimers());

describe('local scheduler', () => {
  it('invokes the submit handler with the EventBridge rule\'s event, for enabled schedules only', async () => {
    const config = parseCrawlerConfig({
      schedules: [
        { name: 'every-minute', expression: 'rate(1 minute)', crawl: { urls: ['https://a.example/'], maxDepth: 1 } },
        { name: 'off', expression: 'rate(1 minute)', enabled: false, crawl: { urls: ['https://b.example/'] } },
      ],
    });
    const calls: unknown[] = [];
    const scheduler = startScheduler(config.schedules, async (event) => calls.push(event), () => undefined);
    expect(scheduler.planned.map((p) => p.name)).toEqual(['every-minute']);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toEqual([
      {
        source: 'serverless-crawler.schedule',
        schedule: 'every-minute',
        crawl: { urls: ['https://a.example/'], maxDepth: 1, sameOrigin: true, robotsTxt: 'obey', sitemap: 'skip' },
        eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        time: '2026-01-01T00:01:30.000Z',
      },
    ]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(2);
    // Each firing is its own event, so each starts its own crawl (a retry of one firing would not).
    expect((calls[1] as { eventId: string }).eventId).not.toBe((calls[0] as { eventId: string }).eventId);
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toHaveLength(2);
  });
});
