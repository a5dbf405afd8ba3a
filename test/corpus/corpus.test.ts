import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeUrl } from '../../functions/core/summarize/summarize-url.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import type { Summary } from '../../functions/core/model/summary.js';
import { contentTypeOf, expected, loadCorpus } from '../../harness/corpus.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

/**
 * The corpus: 178 real pages and what headless Chromium 156 (scripting off) reported for each (a copy of
 * ../shared/corpus; see its README). Each page is served on loopback as the browser got it, `pages/` as
 * `text/html; charset=utf-8` and `encoded/` as `text/html`, and goes through the consumer's own path:
 * `summarizeUrl`, which fetches, sniffs the encoding, decodes, parses and summarizes.
 */
const COMPARED = ['charset', 'title', 'lang', 'links', 'images', 'h1', 'description', 'canonical'] as const;

/**
 * Field values on which we knowingly differ from the browser, each with the reason it cannot be matched
 * ("page/field" → why). At most two may ever be listed. None is needed today.
 */
const ALLOWED_DIFFERENCES: Record<string, string> = {};

/** Chromium's text hash of each page (scripts/corpus-text-with-chromium.mjs wrote it; see the corpus README). */
const expectedText: Record<string, { textHash: string }> = JSON.parse(
  readFileSync(new URL('../fixtures/corpus/expected-text.json', import.meta.url), 'utf8'),
);

const bodies = new Map(loadCorpus().map((page) => [page.name, page.bytes]));
let site: LoopbackServer;
const results = new Map<string, Summary>();

beforeAll(async () => {
  site = await startLoopbackServer((req, res) => {
    const page = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1));
    const body = bodies.get(page);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': contentTypeOf(page) }).end(body);
  });
  const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
  const pages = Object.keys(expected);
  // Eight at a time, as the consumer runs pages side by side.
  for (let i = 0; i < pages.length; i += 8) {
    await Promise.all(
      pages.slice(i, i + 8).map(async (page) => {
        results.set(page, (await summarizeUrl(`${site.url}/${encodeURIComponent(page)}`, limits)).summary);
      }),
    );
  }
}, 120_000);
afterAll(() => site?.close());

describe('the real-page corpus through the consumer path', () => {
  it('holds all 178 pages, as ../shared/corpus does', () => {
    expect(Object.keys(expected)).toHaveLength(178);
    expect(results.size).toBe(178);
  });

  it('agrees with Chromium on every compared field', () => {
    expect(Object.keys(ALLOWED_DIFFERENCES).length).toBeLessThanOrEqual(2);
    const misses: string[] = [];
    let agreed = 0;
    let compared = 0;
    for (const [page, want] of Object.entries(expected)) {
      const got = results.get(page)!;
      for (const field of COMPARED) {
        compared++;
        if (got[field] === want[field]) agreed++;
        else if (!ALLOWED_DIFFERENCES[`${page}/${field}`]) misses.push(`${page} ${field}: got ${JSON.stringify(got[field])}, Chromium ${JSON.stringify(want[field])}`);
      }
    }
    console.log(`corpus agreement with Chromium: ${agreed}/${compared} field values (${((100 * agreed) / compared).toFixed(2)}%) on ${results.size} pages`);
    expect(misses).toEqual([]);
  });

  it("agrees with Chromium on every page's textHash", () => {
    const misses = Object.keys(expected).filter((page) => results.get(page)!.textHash !== expectedText[page]?.textHash);
    console.log(`textHash agreement with Chromium: ${results.size - misses.length}/${results.size} pages`);
    expect(misses).toEqual([]);
  });

  it('reports the fetch fields of every page: ok, status, finalUrl, contentType, bytes, contentHash', () => {
    for (const page of Object.keys(expected)) {
      const body = bodies.get(page)!;
      const got = results.get(page)!;
      const url = `${site.url}/${encodeURIComponent(page)}`;
      expect(got, page).toMatchObject({
        ok: true,
        status: 200,
        url,
        finalUrl: url,
        contentType: 'text/html',
        bytes: body.length,
        contentHash: createHash('sha256').update(body).digest('hex'),
      });
    }
  });
});
