import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDocument } from '../../functions/core/parse/decode.js';
import { scanHtml } from '../../functions/core/parse/streaming-pass.js';
import { scanTree } from '../../functions/core/parse/tree-builder.js';
import { expected, loadCorpus } from '../../harness/corpus.js';

/**
 * The page's text of every corpus page, by each parser on its own, against what headless Chromium 156 (scripting
 * off) has for `document.body` without its script, style and template elements (expected-text.json, written by
 * scripts/corpus-text-with-chromium.mjs). corpus.test.ts checks the same through the consumer's path.
 */
const expectedText: Record<string, { textHash: string; textLength: number }> = JSON.parse(
  readFileSync(new URL('../fixtures/corpus/expected-text.json', import.meta.url), 'utf8'),
);
const pages = loadCorpus();

describe("the corpus's text hash, by each parser", () => {
  it("has Chromium's text for every page", () => {
    expect(Object.keys(expectedText).sort()).toEqual(Object.keys(expected).sort());
    // A page whose text the browser found empty would not tell a wrong body from a right one.
    expect(Object.values(expectedText).every((page) => page.textLength > 0)).toBe(true);
  });

  it('agrees with Chromium on every page: the streaming pass wherever it keeps the page, and the tree builder', async () => {
    const misses: string[] = [];
    let streamed = 0;
    for (const page of pages) {
      const html = decodeDocument(page.bytes, page.contentType).text;
      const want = expectedText[page.name]!.textHash;
      const scanned = await scanHtml(html);
      if (!('needsTreeBuilder' in scanned)) {
        streamed++;
        if (scanned.textHash !== want) misses.push(`${page.name}: streaming pass`);
      }
      if ((await scanTree(html)).textHash !== want) misses.push(`${page.name}: tree builder`);
    }
    console.log(`textHash agreement with Chromium: streaming pass on ${streamed} pages, tree builder on ${pages.length}, ${misses.length} misses`);
    expect(misses).toEqual([]);
    // The streaming pass must keep most pages, or this would test the tree builder alone.
    expect(streamed).toBeGreaterThan(pages.length * 0.9);
  }, 60_000);
});
