import { readFileSync } from 'node:fs';

/**
 * The real-page corpus (a copy of ../shared/corpus; see its README) and how a browser was served it: `pages/` as
 * `text/html; charset=utf-8`, `encoded/` as `text/html` with no charset. Used by the corpus test and the bench.
 */
const CORPUS = new URL('../test/fixtures/corpus/', import.meta.url);

/** What headless Chromium 156 (scripting off) reported for each page, keyed `pages/NAME` or `encoded/NAME`. */
export const expected: Record<string, Record<string, unknown>> = JSON.parse(readFileSync(new URL('expected.json', CORPUS), 'utf8'));

export const contentTypeOf = (page: string) => (page.startsWith('pages/') ? 'text/html; charset=utf-8' : 'text/html');

export interface CorpusPage {
  name: string;
  bytes: Buffer;
  contentType: string;
}

export function loadCorpus(): CorpusPage[] {
  return Object.keys(expected).map((name) => ({ name, bytes: readFileSync(new URL(name, CORPUS)), contentType: contentTypeOf(name) }));
}
