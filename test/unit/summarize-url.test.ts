import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TEXT_FIELD_CHARS } from '../../functions/core/model/limits.js';
import { summarizeUrl } from '../../functions/core/summarize/summarize-url.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../../functions/core/fetch/fetch-limits.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

const open: FetchLimits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true, timeoutMs: 2_000 };
const PAGE = '<!doctype html><html lang="en"><head><title>Hello</title></head><body><h1>x</h1><a href="/next">n</a><img src=a></body></html>';

let site: LoopbackServer;
beforeAll(async () => {
  site = await startLoopbackServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const hop = Number(url.searchParams.get('n') ?? 0);
    switch (url.pathname) {
      case '/page':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
        return;
      case '/redirect':
        res.writeHead(hop > 0 ? 302 : 301, { location: hop > 0 ? `/redirect?n=${hop - 1}` : '/page' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/missing':
        res.writeHead(404, { 'content-type': 'text/html' }).end('<title>Not found</title>');
        return;
      case '/json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}');
        return;
      case '/xhtml':
        res.writeHead(200, { 'content-type': 'application/xhtml+xml' }).end('<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head></html>');
        return;
      case '/untyped':
        res.writeHead(200).end('  <!DOCTYPE html><title>Untyped</title>');
        return;
      case '/untyped-binary':
        res.writeHead(200).end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
        return;
      case '/gzip':
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(gzipSync(PAGE));
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>big</title>${'x'.repeat(20_000)}`);
        return;
      case '/big-gzip':
        // Small on the wire, large once inflated: the cap applies to decoded bytes.
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(200_000, 0x20)));
        return;
      case '/huge-title':
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>${'t'.repeat(1_000_000)}</title><meta name=description content="${'d'.repeat(500_000)}">`);
        return;
      case '/hang':
        return; // never answers
      default:
        res.writeHead(500).end();
    }
  });
});
afterAll(() => site.close());

describe('summarizeUrl (fetch → decode → parse → summary) against a loopback site', () => {
  it('summarizes an HTML page', async () => {
    const { summary, outlinks } = await summarizeUrl(`${site.url}/page`, open);
    expect(summary).toMatchObject({
      url: `${site.url}/page`, finalUrl: `${site.url}/page`, status: 200, ok: true, contentType: 'text/html', charset: 'UTF-8',
      title: 'Hello', lang: 'en', description: null, canonical: null, h1: 1, links: 1, images: 1, bytes: Buffer.byteLength(PAGE),
    });
    expect(summary.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.error).toBeUndefined();
    expect(outlinks()).toEqual([`${site.url}/next`]);
  });

  it('gives byte-identical bodies the same contentHash', async () => {
    const [a, b] = await Promise.all([summarizeUrl(`${site.url}/page`, open), summarizeUrl(`${site.url}/gzip`, open)]);
    expect(a.summary.contentHash).toBe(b.summary.contentHash);
  });

  it('follows up to maxRedirects redirects and reports the final URL', async () => {
    const { summary } = await summarizeUrl(`${site.url}/redirect?n=4`, open);
    expect(summary).toMatchObject({ ok: true, finalUrl: `${site.url}/page`, title: 'Hello' });
  });

  it('stops after too many redirects, and on a loop', async () => {
    const tooMany = await summarizeUrl(`${site.url}/redirect?n=5`, open);
    expect(tooMany.summary).toMatchObject({ ok: false, error: { code: 'TOO_MANY_REDIRECTS' } });
    const loop = await summarizeUrl(`${site.url}/loop`, open);
    expect(loop.summary).toMatchObject({ ok: false, error: { code: 'TOO_MANY_REDIRECTS' } });
  });

  it('reports HTTP errors with their status', async () => {
    const { summary } = await summarizeUrl(`${site.url}/missing`, open);
    expect(summary).toMatchObject({ ok: false, status: 404, title: '', error: { code: 'HTTP_404' } });
  });

  it('does not parse non-HTML, treats XHTML as HTML, sniffs untyped bodies', async () => {
    expect((await summarizeUrl(`${site.url}/json`, open)).summary).toMatchObject({ ok: false, status: 200, contentType: 'application/json', error: { code: 'NOT_HTML' } });
    expect((await summarizeUrl(`${site.url}/xhtml`, open)).summary).toMatchObject({ ok: true, contentType: 'application/xhtml+xml', title: 'X' });
    expect((await summarizeUrl(`${site.url}/untyped`, open)).summary).toMatchObject({ ok: true, title: 'Untyped' });
    expect((await summarizeUrl(`${site.url}/untyped-binary`, open)).summary).toMatchObject({ ok: false, error: { code: 'NOT_HTML' } });
  });

  it('caps the body, after decompression too', async () => {
    const limits = { ...open, maxBodyBytes: 10_000 };
    expect((await summarizeUrl(`${site.url}/big`, limits)).summary).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
    expect((await summarizeUrl(`${site.url}/big-gzip`, limits)).summary).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
    expect((await summarizeUrl(`${site.url}/gzip`, limits)).summary).toMatchObject({ ok: true, title: 'Hello' });
  });

  it('caps text fields so a hostile page still fits one DynamoDB item', async () => {
    const { summary } = await summarizeUrl(`${site.url}/huge-title`, open);
    expect(summary.ok).toBe(true);
    expect(summary.title).toHaveLength(MAX_TEXT_FIELD_CHARS);
    expect(summary.description).toHaveLength(MAX_TEXT_FIELD_CHARS);
    expect(Buffer.byteLength(JSON.stringify(summary))).toBeLessThan(100_000);
  });

  it('times out a server that never answers', async () => {
    const { summary } = await summarizeUrl(`${site.url}/hang`, { ...open, timeoutMs: 300 });
    expect(summary).toMatchObject({ ok: false, status: null, error: { code: 'TIMEOUT' } });
  });

  it('refuses loopback addresses by default, without connecting', async () => {
    let hits = 0;
    const counter = await startLoopbackServer((_req, res) => {
      hits++;
      res.end('<title>x</title>');
    });
    try {
      const port = new URL(counter.url).port;
      for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]', '0x7f.1', '2130706433']) {
        const { summary } = await summarizeUrl(`http://${host}:${port}/`, DEFAULT_FETCH_LIMITS);
        expect(summary, host).toMatchObject({ ok: false, status: null, error: { code: 'BLOCKED_ADDRESS' } });
      }
      expect(hits).toBe(0);
    } finally {
      await counter.close();
    }
  });

  it('reports refused connections', async () => {
    const closed = await startLoopbackServer(() => undefined);
    const url = closed.url;
    await closed.close();
    expect((await summarizeUrl(`${url}/`, open)).summary).toMatchObject({ ok: false, error: { code: 'CONNECTION_REFUSED' } });
  });
});
