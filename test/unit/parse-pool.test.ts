import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { ESBUILD_OPTIONS } from '../../lib/bundling.js';
import { analyzeHere } from '../../functions/core/parse/analyze-body.js';
import { ParsePool } from '../../functions/core/parse/parse-pool.js';
import { loadCorpus } from '../../harness/corpus.js';

const pages = loadCorpus().filter((_, i) => i % 20 === 0);
const dir = mkdtempSync(join(tmpdir(), 'parse-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ParsePool', () => {
  it('gives the same analysis as parsing on the main thread, for real pages', async () => {
    const pool = new ParsePool(2);
    try {
      const pooled = await Promise.all(pages.map((p) => pool.analyze(Buffer.from(p.bytes), p.contentType, 'https://site.example/')));
      const here = await Promise.all(pages.map((p) => analyzeHere(Buffer.from(p.bytes), p.contentType, 'https://site.example/')));
      expect(pooled).toEqual(here);
    } finally {
      await pool.close();
    }
  });

  it('runs from a bundle, its workers loading that same bundle file (as in a Lambda)', async () => {
    const outfile = join(dir, 'pool.mjs');
    await build({
      stdin: { contents: "export { ParsePool } from './functions/core/parse/parse-pool.ts';", resolveDir: new URL('../..', import.meta.url).pathname },
      outfile,
      ...ESBUILD_OPTIONS,
    });
    const { ParsePool: BundledPool } = (await import(outfile)) as { ParsePool: typeof ParsePool };
    const pool = new BundledPool(1, outfile);
    try {
      const result = await pool.analyze(Buffer.from('<title> pooled </title><a href="/x#y">x</a>'), 'text/html', 'https://site.example/');
      expect(result).toMatchObject({ fields: { title: 'pooled', links: 1 }, pageLinks: { hrefs: ['/x#y'], baseHref: null }, charset: 'windows-1252' });
    } finally {
      await pool.close();
    }
  });

  it('fails the pages of a worker that dies, and replaces it', async () => {
    const pool = new ParsePool(1);
    try {
      const slot = (pool as unknown as { slots: { worker: import('node:worker_threads').Worker }[] }).slots[0]!;
      const pending = pool.analyze(Buffer.from('<title>x</title>'), 'text/html', 'https://site.example/');
      await slot.worker.terminate();
      await expect(pending).rejects.toThrow(/exited/);
      expect((await pool.analyze(Buffer.from('<title>again</title>'), 'text/html', 'https://site.example/')).fields.title).toBe('again');
    } finally {
      await pool.close();
    }
  });
});
