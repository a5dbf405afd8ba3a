import { describe, expect, it } from 'vitest';
import { baseFor, baseOf, compareWith } from '../../functions/core/crawl/change.js';
import { EMPTY_PAGE_FIELDS, type Summary } from '../../functions/core/model/summary.js';

const page = (over: Partial<Summary> = {}): Summary => ({
  url: 'https://a.example/', finalUrl: 'https://a.example/', status: 200, ok: true, contentType: 'text/html', charset: 'UTF-8',
  ...EMPTY_PAGE_FIELDS, title: 'A', links: 3, bytes: 100, durationMs: 5, fetchedAt: '2026-11-01T00:00:00.000Z', contentHash: 'c1', textHash: 't1',
  ...over,
});

describe('change detection', () => {
  it('is new without an earlier summary', () => {
    expect(compareWith(page(), null)).toEqual({ change: 'new', changedFields: [], previous: null });
  });

  it('is same when only the bytes differ (contentHash), not what a person reads', () => {
    const base = baseOf('C0', page());
    expect(compareWith(page({ contentHash: 'c2', bytes: 120, fetchedAt: '2026-11-02T00:00:00.000Z' }), base)).toEqual({
      change: 'same', changedFields: [], previous: { crawlId: 'C0', fetchedAt: '2026-11-01T00:00:00.000Z', contentHash: 'c1' },
    });
  });

  it('names every field that differs, in the contract order, the text by textHash', () => {
    const base = baseOf('C0', page());
    const failed = page({ status: 500, ok: false, title: '', links: 0, textHash: null });
    expect(compareWith(failed, base).changedFields).toEqual(['status', 'ok', 'title', 'links', 'text']);
    expect(compareWith(page({ textHash: 't2', h1: 1 }), base)).toMatchObject({ change: 'changed', changedFields: ['h1', 'text'] });
  });

  it('does not compare text with a summary recorded before pages had a textHash', () => {
    const legacy = page();
    delete (legacy as Partial<Summary>).textHash;
    expect(compareWith(page({ textHash: 't9' }), baseOf('C0', legacy)).change).toBe('same');
  });

  it("compares a redelivered page with the base its crawl's first delivery used, not with that delivery's own summary", () => {
    const earlier = baseOf('C0', page());
    const ownWrite = { crawlId: 'C1', summary: page({ textHash: 't2' }), base: earlier };
    expect(baseFor('C1', ownWrite)).toBe(earlier);
    expect(baseFor('C2', ownWrite)).toEqual(baseOf('C1', page({ textHash: 't2' })));
    expect(baseFor('C1', null)).toBeNull();
  });
});
