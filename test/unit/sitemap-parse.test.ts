import { Readable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_BYTES, SitemapFormatError, SitemapParser, type SitemapEntry } from '../../functions/core/sitemap/parse-sitemap.js';
import { sitemapBytes } from '../../functions/core/sitemap/sitemap-body.js';

/** Parses a document fed in chunks of `size` bytes (1 splits every token and multi-byte character). */
function parse(doc: string | Uint8Array, size = 7): { entries: SitemapEntry[]; format: string } {
  const entries: SitemapEntry[] = [];
  const parser = new SitemapParser((e) => entries.push(e));
  const bytes = typeof doc === 'string' ? Buffer.from(doc) : doc;
  for (let i = 0; i < bytes.length; i += size) parser.write(bytes.subarray(i, i + size));
  parser.end();
  return { entries, format: parser.format };
}
const pages = (doc: string, size?: number) => parse(doc, size).entries.map((e) => (e.kind === 'page' ? e.loc : `sitemap:${e.loc}`));

const NS = 'http://www.sitemaps.org/schemas/sitemap/0.9';

describe('the sitemap parser', () => {
  it('reads a urlset, whatever the chunking', () => {
    const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="${NS}">\n<url><loc>https://a.example/1</loc><lastmod>2024-01-01</lastmod></url>\n<url><loc>https://a.example/ü</loc><priority>0.5</priority></url></urlset>`;
    for (const size of [1, 3, 7, 1000]) {
      expect(parse(doc, size)).toEqual({ format: 'urlset', entries: [{ kind: 'page', loc: 'https://a.example/1' }, { kind: 'page', loc: 'https://a.example/ü' }] });
    }
  });

  it('reads a sitemap index as sitemaps, not pages', () => {
    const doc = `<sitemapindex xmlns="${NS}"><sitemap><loc>https://a.example/s1.xml</loc><lastmod>x</lastmod></sitemap><sitemap><loc>https://a.example/s2.xml.gz</loc></sitemap></sitemapindex>`;
    expect(parse(doc)).toEqual({ format: 'sitemapindex', entries: [{ kind: 'sitemap', loc: 'https://a.example/s1.xml' }, { kind: 'sitemap', loc: 'https://a.example/s2.xml.gz' }] });
  });

  it('takes the protocol namespace under any prefix, or none, and not the extensions’ <loc>s', () => {
    const prefixed = `<sm:urlset xmlns:sm="${NS}" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><sm:url><sm:loc>https://a.example/p</sm:loc><image:image><image:loc>https://a.example/i.png</image:loc></image:image></sm:url></sm:urlset>`;
    expect(pages(prefixed)).toEqual(['https://a.example/p']);
    expect(pages('<urlset><url><loc>https://a.example/none</loc></url></urlset>')).toEqual(['https://a.example/none']);
    expect(pages(`<urlset xmlns="https://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.example/https-ns</loc></url></urlset>`)).toEqual(['https://a.example/https-ns']);
    expect(pages(`<urlset xmlns="http://www.google.com/schemas/sitemap/0.84"><url><loc>https://a.example/old</loc></url></urlset>`)).toEqual(['https://a.example/old']);
    // Another namespace's urlset, a <loc> at the wrong depth, a video's content_loc, xhtml:link alternates: none of them.
    expect(pages(`<urlset xmlns="urn:other"><url><loc>https://a.example/x</loc></url></urlset>`)).toEqual([]);
    expect(pages(`<urlset xmlns="${NS}"><loc>https://a.example/shallow</loc><url><a><loc>https://a.example/deep</loc></a></url></urlset>`)).toEqual([]);
    const ext = `<urlset xmlns="${NS}" xmlns:xhtml="http://www.w3.org/1999/xhtml" xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"><url><loc>https://a.example/v</loc><xhtml:link rel="alternate" href="https://a.example/de"/><video:video><video:content_loc>https://a.example/v.mp4</video:content_loc><video:loc>https://a.example/nope</video:loc></video:video></url></urlset>`;
    expect(pages(ext)).toEqual(['https://a.example/v']);
  });

  it('decodes entities and CDATA and trims whitespace', () => {
    const doc = `<urlset xmlns="${NS}"><url><loc>\n   https://a.example/?a=1&amp;b=2&#38;c=&#x33;  \n</loc></url><url><loc><![CDATA[https://a.example/?x=<1>&y=2]]></loc></url><url><loc>  https://a.example/a<!-- c -->b </loc></url><url><loc> </loc></url></urlset>`;
    expect(pages(doc, 1)).toEqual(['https://a.example/?a=1&b=2&c=3', 'https://a.example/?x=<1>&y=2', 'https://a.example/ab']);
    // XML has five named entities, not HTML's: &nbsp; stays as written.
    expect(pages(`<urlset><url><loc>https://a.example/&nbsp;&lt;</loc></url></urlset>`)).toEqual(['https://a.example/&nbsp;<']);
  });

  it('sniffs the format from the first bytes: BOM and leading whitespace, text sitemaps, not-a-sitemap', () => {
    expect(parse(`\uFEFF  \n<urlset><url><loc>https://a.example/bom</loc></url></urlset>`, 1)).toEqual({ format: 'urlset', entries: [{ kind: 'page', loc: 'https://a.example/bom' }] });
    expect(parse('https://a.example/1\r\n  https://a.example/2  \n\n\nhttps://a.example/3', 2)).toEqual({
      format: 'text',
      entries: ['1', '2', '3'].map((n) => ({ kind: 'page', loc: `https://a.example/${n}` })),
    });
    expect(parse(`https://a.example/${'x'.repeat(5000)}\nhttps://a.example/ok\n`, 100).entries).toEqual([{ kind: 'page', loc: 'https://a.example/ok' }]);
    expect(parse('<!DOCTYPE html><html><body><a href="/x">x</a></body></html>')).toEqual({ format: 'unknown', entries: [] });
    expect(parse('')).toEqual({ format: 'unknown', entries: [] });
  });

  it('refuses one token larger than MAX_TOKEN_BYTES (an endless comment) instead of holding it', () => {
    const parser = new SitemapParser(() => undefined);
    parser.write(Buffer.from('<urlset><!--'));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    expect(() => {
      for (let i = 0; i < (MAX_TOKEN_BYTES / chunk.length) * 2; i++) parser.write(chunk);
    }).toThrow(SitemapFormatError);
  });
});

async function collect(source: AsyncIterable<Uint8Array>, cap = 1 << 30) {
  const state = { truncated: false };
  const chunks: Buffer[] = [];
  for await (const c of sitemapBytes(source, cap, state)) chunks.push(Buffer.from(c));
  return { text: Buffer.concat(chunks).toString(), truncated: state.truncated };
}
const chunked = (bytes: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

describe('the sitemap body', () => {
  const xml = `<urlset><url><loc>https://a.example/gz</loc></url></urlset>`;
  it('passes plain bytes, gunzips a .xml.gz body (split anywhere), and a gzip inside gzip', async () => {
    expect(await collect(chunked(Buffer.from(xml), 5))).toEqual({ text: xml, truncated: false });
    expect(await collect(chunked(gzipSync(xml), 1))).toEqual({ text: xml, truncated: false });
    expect(await collect(chunked(gzipSync(gzipSync(xml)), 3))).toEqual({ text: xml, truncated: false });
  });

  it('stops a gzip bomb at the cap, after decompression', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(100_000);
    const out = await collect(chunked(bomb, 16 * 1024), 1024 * 1024);
    expect(out.truncated).toBe(true);
    expect(out.text.length).toBe(1024 * 1024);
  });

  it('fails on a corrupt gzip body', async () => {
    const broken = Buffer.concat([gzipSync(xml).subarray(0, 12), Buffer.from('garbage garbage garbage')]);
    await expect(collect(chunked(broken, 4))).rejects.toThrow();
  });
});

describe('a 50 MB sitemap', () => {
  /** 50 MB of urlset, made as it is read: the test never holds the document. */
  function* generated(urls: number) {
    yield Buffer.from(`<?xml version="1.0"?><urlset xmlns="${NS}">`);
    const pad = 'p'.repeat(960);
    for (let i = 0; i < urls; i += 100) {
      let s = '';
      for (let j = i; j < i + 100 && j < urls; j++) s += `<url><loc>https://a.example/${j}?${pad}</loc><lastmod>2024-01-01</lastmod></url>\n`;
      yield Buffer.from(s);
    }
    yield Buffer.from('</urlset>');
  }

  it('is parsed as it streams, with memory that does not grow with the document', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const urls = 50_000;
    let fed = 0;
    let count = 0;
    let maxLag = 0;
    const parser = new SitemapParser((e) => {
      count++;
      // Streaming counter: each entry comes out while the bytes right after it are still unread.
      const n = Number(/\/(\d+)\?/.exec(e.loc)![1]);
      expect(n).toBe(count - 1);
      maxLag = Math.max(maxLag, fed - parser.bytes);
    });
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    const state = { truncated: false };
    for await (const chunk of sitemapBytes(Readable.from(generated(urls)), 60 * 1024 * 1024, state)) {
      fed += chunk.length;
      parser.write(chunk);
      if (count % 5_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    parser.end();
    expect(parser.bytes).toBeGreaterThan(50_000_000);
    expect(count).toBe(urls);
    expect(maxLag).toBe(0);
    // Loosely: the live heap stays a small fraction of the 50 MB read.
    expect(peak).toBeLessThan(10 * 1024 * 1024);
  });
});
