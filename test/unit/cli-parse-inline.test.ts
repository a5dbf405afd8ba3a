import { describe, expect, it } from 'vitest';
import { analyzeHere, type Analyze } from '../../functions/core/parse/analyze-body.js';
import { oneAtATime, releasingBodies } from '../../cli/polite-fetch.js';

/** A body as the fetcher returns one of a declared length: in a buffer of its own. */
function page(title: string): Buffer {
  const html = `<!doctype html><html><head><title>${title}</title></head><body>${'<p>text</p>'.repeat(2000)}</body></html>`;
  const body = Buffer.allocUnsafeSlow(Buffer.byteLength(html));
  body.write(html);
  return body;
}

describe('crawler fetch parsing on its own thread', () => {
  it('frees a body that owns its memory once it is analyzed, with the same analysis', async () => {
    const body = page('Freed');
    const copy = Buffer.from(body);
    expect(body.byteOffset === 0 && body.byteLength === body.buffer.byteLength).toBe(true);
    const analysis = await releasingBodies(analyzeHere)(body, 'text/html; charset=utf-8', 'https://a.example/');
    expect(analysis).toEqual(await analyzeHere(copy, 'text/html; charset=utf-8', 'https://a.example/'));
    expect(analysis.fields.title).toBe('Freed');
    expect(body.buffer.byteLength).toBe(0);
  });

  it('leaves a body that shares its memory (a slice of a larger buffer) as it is, and frees one whose analysis failed', async () => {
    const shared = Buffer.concat([page('Shared'), Buffer.from('tail')]);
    const slice = shared.subarray(0, shared.length - 4);
    await releasingBodies(analyzeHere)(slice, 'text/html', 'https://a.example/');
    expect(shared.toString('latin1', shared.length - 4)).toBe('tail');
    expect(slice.toString('latin1')).toContain('<title>Shared</title>');

    const body = page('Failing');
    const failing: Analyze = () => Promise.reject(new Error('worker died'));
    await expect(releasingBodies(failing)(body, 'text/html', 'https://a.example/')).rejects.toThrow('worker died');
    expect(body.buffer.byteLength).toBe(0);
  });

  it('analyzes pages one after another, each to its end before the next begins', async () => {
    const events: string[] = [];
    const logged: Analyze = async (body, contentType, url) => {
      events.push(`start ${url}`);
      const analysis = await analyzeHere(body, contentType, url);
      events.push(`end ${url}`);
      return analysis;
    };
    const analyze = oneAtATime(logged);
    const titles = await Promise.all(['a', 'b', 'c'].map(async (name) => (await analyze(page(name), 'text/html', `https://${name}.example/`)).fields.title));
    expect(titles).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['a', 'b', 'c'].flatMap((name) => [`start https://${name}.example/`, `end https://${name}.example/`]));
  });
});
