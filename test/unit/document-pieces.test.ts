import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDocument, decodeInPieces } from '../../functions/core/parse/decode.js';
import { DocumentPieces } from '../../functions/core/parse/document-pieces.js';
import { scanHtml } from '../../functions/core/parse/streaming-pass.js';

const rules: { name: string; html: string }[] = JSON.parse(readFileSync(new URL('../fixtures/field-rules.json', import.meta.url), 'utf8'));
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('decodeInPieces', () => {
  it('cuts the text just before a `<`, and its pieces joined are the whole text', () => {
    const doc = decodeInPieces(utf8('<p>héllo</p><p>wörld</p>'), 'text/html; charset=utf-8', 1);
    expect([...doc.pieces]).toEqual(['<p>héllo', '</p>', '<p>wörld', '</p>']);
    expect(doc.whole()).toBe('<p>héllo</p><p>wörld</p>');
    expect(doc.charset).toBe('UTF-8');
  });

  it('decodes bad UTF-8 and other encodings as decodeDocument does, however small the pieces', () => {
    const bodies: [Uint8Array, string | null][] = [
      // A sequence cut short by a `<`, a stray continuation byte, an overlong form, a lone surrogate's bytes.
      [new Uint8Array([0x3c, 0x70, 0x3e, 0xe2, 0x82, 0x3c, 0x62, 0x3e, 0x80, 0xc0, 0xaf, 0x3c, 0xed, 0xa0, 0x80, 0x3c, 0xf0, 0x9f, 0x98, 0x80]), 'text/html; charset=utf-8'],
      [new Uint8Array([0xef, 0xbb, 0xbf, 0x3c, 0x61, 0x3e, 0xc3, 0xa9, 0x3c, 0x2f, 0x61, 0x3e]), null],
      [new Uint8Array([0x3c, 0x70, 0x3e, 0x93, 0x68, 0x69, 0x94, 0x3c, 0x70, 0x3e, 0x80, 0xe9]), 'text/html; charset=windows-1252'],
      [new Uint8Array([0x3c, 0x70, 0x3e, 0x82, 0xa0, 0x3c, 0x70, 0x3e, 0x93, 0xfa]), 'text/html; charset=shift_jis'],
      [new Uint8Array([0x3c, 0x00, 0x70, 0x00, 0x3e, 0x00]), 'text/html; charset=utf-16le'],
      [new Uint8Array([]), 'text/html'],
    ];
    for (const [bytes, contentType] of bodies) {
      const whole = decodeDocument(bytes, contentType);
      for (const size of [1, 2, 3, 5, 1024]) {
        const doc = decodeInPieces(bytes, contentType, size);
        expect([...doc.pieces].join('')).toBe(whole.text);
        expect(doc.whole()).toBe(whole.text);
        expect([doc.charset, doc.source]).toEqual([whole.charset, whole.source]);
      }
    }
  });
});

describe('DocumentPieces', () => {
  it('reads ranges within and across pieces, by the document’s indices', () => {
    const doc = new DocumentPieces();
    doc.add('abc');
    doc.add('defg');
    expect(doc.slice(1, 5)).toBe('bcde');
    doc.add('hi');
    expect(doc.slice(3, 8)).toBe('defgh');
    expect(doc.slice(7, 9)).toBe('hi');
  });

  it('lets go of the pieces before the latest range read, but not of a pinned one', () => {
    const doc = new DocumentPieces();
    doc.add('abc');
    doc.pin(1);
    doc.add('def');
    doc.add('ghi');
    expect(doc.slice(7, 9)).toBe('hi');
    expect(doc.slice(1, 8)).toBe('bcdefgh');
    doc.unpin();
    expect(doc.slice(7, 9)).toBe('hi');
    expect(() => doc.slice(1, 8)).toThrow(RangeError);
  });
});

describe('scanHtml over pieces', () => {
  it.each(rules.map((rule) => [rule.name, rule] as const))('gets the whole text’s answer from pieces cut before every `<`: %s', async (_, rule) => {
    const bytes = utf8(rule.html);
    const pieces = decodeInPieces(bytes, 'text/html; charset=utf-8', 1).pieces;
    expect(await scanHtml(pieces)).toEqual(await scanHtml(rule.html));
  });

  it('reads a script, a comment and an attribute that each hold a `<`, across pieces', async () => {
    const html =
      '<html><head><title>a < b</title><script>if (a <b) x = "<!--";</script></head><body><!-- c < d -->' +
      '<a title="x<y" href="/z<w">link</a><p>text <b>bold</b></p><script>var s = "<script>";</script><p>end</p>';
    for (const size of [1, 2, 4, 9, 17]) {
      const scanned = await scanHtml(decodeInPieces(utf8(html), 'text/html; charset=utf-8', size).pieces);
      expect(scanned).toEqual(await scanHtml(html));
      expect(scanned).toMatchObject({ title: 'a < b', hrefs: ['/z<w'] });
    }
  });
});
