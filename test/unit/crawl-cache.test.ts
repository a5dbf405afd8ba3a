import { describe, expect, it } from 'vitest';
import { CrawlCache } from '../../functions/core/crawl/crawl-cache.js';
import type { Crawl } from '../../functions/core/model/crawl.js';

const crawl = (crawlId: string, status: Crawl['status']): Crawl => ({
  crawlId, status, total: 1, succeeded: 0, failed: 0, createdAt: '2026-01-01T00:00:00.000Z', options: { maxDepth: 0, sameOrigin: true }, source: { kind: 'api' },
});

describe('CrawlCache', () => {
  it('reads a crawl once for the pages asking at once, and again once its copy is older than maxAgeMs', async () => {
    let clock = 0;
    let status: Crawl['status'] = 'running';
    const reads: string[] = [];
    const cache = new CrawlCache({ getCrawl: async (id) => (reads.push(id), crawl(id, status)) }, 2_000, () => clock);
    const [a, b] = await Promise.all([cache.get('A'), cache.get('A')]);
    expect([a?.status, b?.status, reads]).toEqual(['running', 'running', ['A']]);
    status = 'completed';
    clock = 1_999;
    expect((await cache.get('A'))?.status).toBe('running');
    clock = 2_000;
    expect((await cache.get('A'))?.status).toBe('completed');
    expect(reads).toEqual(['A', 'A']);
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const cache = new CrawlCache({ getCrawl: async (id) => { if (fail) throw new Error('throttled'); return crawl(id, 'running'); } }, 2_000, () => 0);
    await expect(cache.get('A')).rejects.toThrow('throttled');
    fail = false;
    expect((await cache.get('A'))?.crawlId).toBe('A');
  });
});
