import { describe, expect, it } from 'vitest';
import { toCsv } from '../../cli/format.js';
import { failedSummary } from '../../functions/core/model/summary.js';

describe('crawler pages --format csv', () => {
  it('has the Summary\'s columns in order, error as errorCode and errorMessage, and RFC 4180 quoting', () => {
    const failed = {
      ...failedSummary({ url: 'https://a.example/x', fetchedAt: '2026-11-25T00:00:00.000Z', error: { code: 'HTTP_404', message: 'not "here", sorry' } }),
      depth: 1,
      change: 'changed' as const,
      changedFields: ['status' as const, 'ok' as const],
      previous: { crawlId: '01KB0000000000000000000000', fetchedAt: '2026-11-24T00:00:00.000Z', contentHash: 'abc' },
    };
    const [header, row, end] = toCsv([failed], true).split('\r\n');
    expect(header).toBe(
      'url,finalUrl,status,ok,contentType,charset,title,lang,description,canonical,h1,links,images,bytes,durationMs,fetchedAt,contentHash,textHash,' +
        'errorCode,errorMessage,depth,change,changedFields,previousCrawlId,previousFetchedAt,previousContentHash',
    );
    expect(row).toBe(
      'https://a.example/x,https://a.example/x,,false,,,,,,,0,0,0,0,0,2026-11-25T00:00:00.000Z,,,HTTP_404,"not ""here"", sorry",' +
        '1,changed,status ok,01KB0000000000000000000000,2026-11-24T00:00:00.000Z,abc',
    );
    expect(end).toBe('');
    expect(toCsv([failed], false)).toBe(`${row}\r\n`);
  });
});
