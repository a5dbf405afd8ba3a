import { describe, expect, it } from 'vitest';
import { normalizeUrl, partitionUrls, redactUrl } from '../../functions/core/model/url.js';

describe('normalizeUrl', () => {
  it('keeps absolute http(s) URLs, serialized by the WHATWG parser', () => {
    expect(normalizeUrl('HTTP://Example.COM:80/a b?x=1#frag')).toEqual({ ok: true, url: 'http://example.com/a%20b?x=1' });
    expect(normalizeUrl('  https://example.com  ')).toEqual({ ok: true, url: 'https://example.com/' });
  });

  it('removes the fragment', () => {
    expect(normalizeUrl('https://example.com/page#section')).toEqual({ ok: true, url: 'https://example.com/page' });
  });

  it.each([
    ['ftp://example.com/', 'scheme ftp is not http or https'],
    ['javascript:alert(1)', 'scheme javascript is not http or https'],
    ['/relative/path', 'not an absolute URL'],
    ['example.com', 'not an absolute URL'],
    ['', 'empty'],
    ['http://', 'not an absolute URL'],
  ])('rejects %j with a reason', (input, reason) => {
    expect(normalizeUrl(input)).toEqual({ ok: false, reason });
  });

  it('rejects non-strings and URLs over 2,048 characters', () => {
    expect(normalizeUrl(42)).toEqual({ ok: false, reason: 'not a string' });
    const long = `https://example.com/${'a'.repeat(2_030)}`;
    expect(long.length).toBeGreaterThan(2_048);
    expect(normalizeUrl(long)).toMatchObject({ ok: false });
    const fits = `https://example.com/${'a'.repeat(2_048 - 20)}`;
    expect(fits.length).toBe(2_048);
    expect(normalizeUrl(fits)).toMatchObject({ ok: true });
  });
});

describe('partitionUrls', () => {
  it('accepts the first of each URL in order and rejects the rest with reasons', () => {
    const result = partitionUrls(['https://a.example/', 'ftp://b', 'https://A.example', 'https://c.example/x#y', 7]);
    expect(result.accepted).toEqual(['https://a.example/', 'https://c.example/x']);
    expect(result.rejected).toEqual([
      { url: 'ftp://b', reason: 'scheme ftp is not http or https' },
      { url: 'https://A.example', reason: 'duplicate within the request' },
      { url: '7', reason: 'not a string' },
    ]);
  });
});

describe('redactUrl', () => {
  it('removes credentials from URLs meant for logs', () => {
    expect(redactUrl('https://user:secret@example.com/x')).toBe('https://redacted@example.com/x');
    expect(redactUrl('https://example.com/x')).toBe('https://example.com/x');
    expect(redactUrl('https://example.com/x?token=abc&page=2&X-Amz-Signature=ff&api_key=k')).toBe(
      'https://example.com/x?token=redacted&page=2&X-Amz-Signature=redacted&api_key=redacted',
    );
  });
});
