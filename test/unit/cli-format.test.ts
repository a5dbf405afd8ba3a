import { describe, expect, it } from 'vitest';
import { toCsv } from '../../cli/format.js';
import { failedSummary } from '../../functions/core/model/summary.js';

describe('crawler pages --format csv', () => {
  it('has the Summary\'s columns in order, error as errorCode and errorMessage, and RFC 4180 quoting', () => {
    const failed = failedSummary({ url: 'https://a.example/x', fetchedAt: '2026-11-25T00:00:00.000Z', error: { code: 'HTTP_404', message: 'not "here", sorry' } });
    const [header, row, end] = toCsv([failed], true).split('\r\n');
    expect(header).toBe('url,finalUrl,status,ok,contentType,charset,title,lang,description,canonical,h1,links,images,bytes,durationMs,fetchedAt,contentHash,errorCode,errorMessage');
    expect(row).toBe('https://a.example/x,https://a.example/x,,false,,,,,,,0,0,0,0,0,2026-11-25T00:00:00.000Z,,HTTP_404,"not ""here"", sorry"');
    expect(end).toBe('');
    expect(toCsv([failed], false)).toBe(`${row}\r\n`);
  });
});
