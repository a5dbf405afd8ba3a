import { createHash } from 'node:crypto';
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { decodeDocument } from '../../functions/core/parse/decode.js';
import { ScanTokenizer } from '../../functions/core/parse/scan-tokenizer.js';
import { loadCorpus } from '../../harness/corpus.js';

/** A digest of every event a tokenizer reports for `html`, with its arguments, and how many there were. */
function events(Make: typeof Tokenizer, html: string): { digest: string; count: number } {
  const hash = createHash('sha256');
  let count = 0;
  const cbs = new Proxy({} as TokenizerCallbacks, {
    get: (_, name) => (...args: unknown[]) => {
      count++;
      hash.update(`${String(name)}(${args.join(',')})\n`);
    },
  });
  const tokenizer = new Make({ decodeEntities: true }, cbs);
  tokenizer.write(html);
  tokenizer.end();
  return { digest: hash.digest('hex'), count };
}

describe('ScanTokenizer on the real-page corpus', () => {
  it('reports the same events at the same indices as the Tokenizer on every page', () => {
    const differs: string[] = [];
    for (const page of loadCorpus()) {
      const html = decodeDocument(page.bytes, page.contentType).text;
      const ours = events(ScanTokenizer, html);
      if (ours.count === 0 || ours.digest !== events(Tokenizer, html).digest) differs.push(page.name);
    }
    expect(differs).toEqual([]);
  });
});
