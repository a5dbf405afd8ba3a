import { describe, expect, it } from 'vitest';
import { decodeDocument, decodeInPieces, PIECE_BYTES } from '../../functions/core/parse/decode.js';
import { scanHtml } from '../../functions/core/parse/streaming-pass.js';
import { loadCorpus } from '../../harness/corpus.js';

/** The consumer scans a page's text in pieces (decodeInPieces); every corpus page must scan as its whole text does. */
describe('the corpus scanned in pieces', () => {
  it('gives every page the answer of its whole text, with pieces of every size tried', async () => {
    const differs: string[] = [];
    let cut = 0;
    for (const page of loadCorpus()) {
      const whole = await scanHtml(decodeDocument(page.bytes, page.contentType).text);
      for (const size of [64, 1024, PIECE_BYTES]) {
        const pieces = [...decodeInPieces(page.bytes, page.contentType, size).pieces];
        if (pieces.length > 1) cut++;
        if (JSON.stringify(await scanHtml(pieces)) !== JSON.stringify(whole)) differs.push(`${page.name} in pieces of ${size} bytes`);
      }
    }
    expect(differs).toEqual([]);
    // Most pages are cut, or this would compare whole texts with themselves.
    expect(cut).toBeGreaterThan(300);
  });
});
