import { readFileSync } from 'node:fs';
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { ScanTokenizer } from '../../functions/core/parse/scan-tokenizer.js';
import { loadCorpus } from '../../harness/corpus.js';

/** Every event a tokenizer reports, with its arguments, for `html` written in pieces cut at `cuts`. */
function events(Make: typeof Tokenizer, html: string, cuts: number[] = []): string[] {
  const seen: string[] = [];
  const cbs = new Proxy({} as TokenizerCallbacks, { get: (_, name) => (...args: unknown[]) => seen.push(`${String(name)}(${args.join(',')})`) });
  const tokenizer = new Make({ decodeEntities: true }, cbs);
  let at = 0;
  for (const cut of cuts) {
    tokenizer.write(html.slice(at, cut));
    at = cut;
  }
  tokenizer.write(html.slice(at));
  tokenizer.end();
  return seen;
}

const rules: { html: string }[] = JSON.parse(readFileSync(new URL('../fixtures/field-rules.json', import.meta.url), 'utf8'));

describe('ScanTokenizer: htmlparser2 Tokenizer stepping over text, quoted values, names and whitespace', () => {
  const documents = [
    ...rules.map((rule) => rule.html),
    '<p class="a&amp;b" title=\'x&lt;y\' id=plain&gt;>one &amp two &notin; three &#x41;&#66 < four <</p>',
    '<a href="unterminated',
    "<a title='unterminated &amp",
    'text at the end &am',
    '<title>a &amp; b</title><script>if (a < b && c) {}</script><!-- & < --><style>p{}</style>',
    '<svg><![CDATA[x & y]]></svg><?pi & ?><!doctype x>',
    '<div\n\t  class="a"\r\n   data-x = \'1\'  hidden\f  disabled/><img  src=x.png  alt  >',
    '<a/b c/d=e f=g/ h="i"/>text</a/b ><p \n></p\n  ><Täg Ätt=1>x</Täg  x="y">',
    '<script  type="module" >a <b</script  ><title  >t</title\t>',
  ];

  it('reports the same events at the same indices as the Tokenizer', () => {
    for (const html of documents) expect(events(ScanTokenizer, html), html).toEqual(events(Tokenizer, html));
  });

  it('also when the document is written in pieces cut anywhere', () => {
    for (const html of documents.slice(-9)) {
      for (let cut = 0; cut <= html.length; cut++) {
        expect(events(ScanTokenizer, html, [cut]), `${html} cut at ${cut}`).toEqual(events(Tokenizer, html, [cut]));
      }
    }
  });

  // The next `<`, `&` and quotes are looked up once and remembered until passed, and each piece forgets them.
  const skips = [
    '<p>one</p><p>two</p><i x="a" y=\'b\'>three</i> four &amp; five <b z="&lt;">&gt;</b>',
    '<!-- a - b -- c --->x<!-- -- -->y<![CDATA[ a ] b ]] c ]]>z<!x - > y>',
    '<script>a<b; c<<d; "</scr"; x < y & z</script>after &amp; <style>a>b{}</style>',
    '<a href="1&amp;2" title="x">a & b &lt; c</a><a title=\'&quot;\' href=\'3\'>d</a>',
  ];

  it('skips to the same places when pieces end anywhere before or after the characters it looks for', () => {
    for (const html of skips) {
      expect(events(ScanTokenizer, html), html).toEqual(events(Tokenizer, html));
      for (let first = 0; first <= html.length; first++) {
        for (let second = first; second <= html.length; second += 7) {
          expect(events(ScanTokenizer, html, [first, second]), `${html} cut at ${first}, ${second}`).toEqual(events(Tokenizer, html, [first, second]));
        }
      }
    }
  });

  it('reports the same events on real pages written in pieces', () => {
    const pages = loadCorpus().filter((_, i) => i % 12 === 0);
    for (const page of pages) {
      const html = page.bytes.toString('utf8');
      const cuts = Array.from({ length: Math.floor(html.length / 20_000) }, (_, i) => (i + 1) * 20_000);
      expect(events(ScanTokenizer, html, cuts), page.name).toEqual(events(Tokenizer, html, cuts));
    }
  });
});
