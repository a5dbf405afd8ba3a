import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scanHtml } from '../../functions/core/parse/streaming-pass.js';
import { resolveLinks } from '../../functions/core/parse/links.js';
import { parsePage } from '../../functions/core/parse/parse-page.js';
import { scanTree } from '../../functions/core/parse/tree-builder.js';

/**
 * Each document's expected fields are what headless Chromium 156 (scripting off) reported for it, written into the
 * fixture by `npm run check:chromium -- --write`; re-run that to check them against the browser again.
 */
interface Rule {
  name: string;
  html: string;
  chromium: Record<string, unknown> & { hrefs: string[] };
  treeBuilderDiffers?: string;
}
const rules: Rule[] = JSON.parse(readFileSync(new URL('../fixtures/field-rules.json', import.meta.url), 'utf8'));
const URL_OF_PAGE = 'https://example.com/dir/page.html';

describe('parsePage: the Summary fields as Chromium computes them', () => {
  it.each(rules.map((rule) => [rule.name, rule] as const))('%s', async (_, rule) => {
    const { hrefs, ...fields } = rule.chromium;
    const page = await parsePage(rule.html, URL_OF_PAGE);
    expect(page.fields).toEqual(fields);

    // Both parsing paths must agree with the browser on their own: the streaming pass wherever it does not hand
    // the page over, and the tree builder everywhere but where parse5 itself differs from Chromium.
    // The text hash is checked in text-hash.test.ts; here the two paths agree on it.
    const scanned = await scanHtml(rule.html);
    const { textHash: treeTextHash, ...tree } = await scanTree(rule.html);
    if (!('needsTreeBuilder' in scanned)) {
      const { textHash, ...scannedFields } = scanned;
      expect(scannedFields).toEqual({ ...fields, hrefs, baseHref: null, nofollow: false });
      expect(textHash).toBe(treeTextHash);
    }
    if (!rule.treeBuilderDiffers) expect(tree).toEqual({ ...fields, hrefs, baseHref: null, nofollow: false });
  });

  it('hands misnested <a> elements to the tree builder, and keeps well-formed pages on the fast path', async () => {
    const cloned = rules.filter((rule) => rule.name.startsWith('clones:') && !rule.name.includes('no clone'));
    expect(cloned.length).toBeGreaterThan(4);
    for (const rule of cloned) {
      expect((await parsePage(rule.html, URL_OF_PAGE)).parser, rule.name).toBe('tree');
    }
    expect((await parsePage('<p><a href=x>one</a><p>two<ul><li><a href=y>y</a><li>z</ul>', URL_OF_PAGE)).parser).toBe('stream');
    for (const rule of rules.filter((r) => r.name.startsWith('nested <a>:') && !r.name.includes('at most 8'))) {
      expect((await parsePage(rule.html, URL_OF_PAGE)).parser, rule.name).toBe('stream');
    }
  });

  it('parses a long document in slices and gets the same answer', async () => {
    const row = '<li><a href="/item">item</a> <img src=i.png></li>\n';
    const html = `<title>long</title><ul>${row.repeat(30_000)}</ul><h1>end</h1>`;
    expect(html.length).toBeGreaterThan(4 * 256 * 1024);
    const page = await parsePage(html, URL_OF_PAGE);
    expect(page.fields).toMatchObject({ title: 'long', links: 30_000, images: 30_000, h1: 1 });
    const tree = await scanTree(html);
    expect(tree).toMatchObject({ title: 'long', links: 30_000, images: 30_000, h1: 1 });
  });
});

describe('parsePage: outlinks', () => {
  it('resolves links against the document URL and <base>, drops fragments and non-http schemes', async () => {
    const outlinks = async (html: string, url: string) => resolveLinks((await parsePage(html, url)).pageLinks, url);
    expect(
      await outlinks(
        '<a href="next.html#top">a</a><a href="/root">b</a><a href="mailto:x@y">c</a><a href="https://other.example/">d</a><a href="next.html">dup</a><a href="http://[bad">e</a>',
        URL_OF_PAGE,
      ),
    ).toEqual(['https://example.com/dir/next.html', 'https://example.com/root', 'https://other.example/']);
    expect(await outlinks('<base href="https://cdn.example/base/"><a href="x">x</a>', 'https://example.com/')).toEqual(['https://cdn.example/base/x']);
    expect(await outlinks('<base href="http://[bad"><a href="x">x</a>', 'https://example.com/')).toEqual(['https://example.com/x']);
    expect(await outlinks('<template><base href="https://t.example/"></template><a href="x">x</a>', 'https://example.com/')).toEqual(['https://example.com/x']);
  });
});
