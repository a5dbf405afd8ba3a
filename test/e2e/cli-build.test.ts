import { cpSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCrawler, startProcess } from '../support/processes.js';
import { startSite } from '../support/site.js';

/**
 * The `crawler` bin (package.json's bin, cli/crawler.js) runs the compiled build in dist/ (cli/build.mjs, which
 * `npm install`, `npm ci` and `npm test` run) while it is current, and the TypeScript sources through tsx otherwise.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'cli/crawler.js');
const COMPILING = /compiling the TypeScript sources/;

interface BuildInfo {
  startedAt: number;
  sources: string[];
  contents: Record<string, string[]>;
}
const buildInfo = (): BuildInfo => JSON.parse(readFileSync(join(ROOT, 'dist/build.json'), 'utf8')) as BuildInfo;

let site: Awaited<ReturnType<typeof startSite>>;
beforeAll(async () => {
  site = await startSite();
});
afterAll(async () => {
  await site?.close();
});

describe('the compiled crawler command', () => {
  it('is current: built from every source the CLI imports, none changed since (npm test builds it first)', () => {
    const build = buildInfo();
    expect(build.sources).toEqual(expect.arrayContaining(['cli/main.ts', 'cli/polite-fetch.ts', 'lib/config.ts', 'functions/core/parse/parse-pool.ts']));
    const changed = build.sources.filter((source) => statSync(join(ROOT, source)).mtimeMs > build.startedAt);
    expect(changed, 'sources changed after the build: run npm run build:cli').toEqual([]);
  });

  it('answers --help from the build, loading neither the fetcher, the parser, zod nor the AWS SDK', async () => {
    // A module hook of Node's own records every file the process loads.
    const dir = mkdtempSync(join(tmpdir(), 'crawler-bin-'));
    const log = join(dir, 'loaded.txt');
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, url + '\\n'); return next(url, context); }`);
    writeFileSync(join(dir, 'record.mjs'), `import { register } from 'node:module';
register(${JSON.stringify(new URL(`file://${join(dir, 'hooks.mjs')}`).href)}, { data: { log: ${JSON.stringify(log)} } });`);
    const run = await startProcess(process.execPath, ['--import', join(dir, 'record.mjs'), BIN, '--help']).done;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: crawler <command>/);
    expect(run.stderr).toBe('');
    const loaded = readFileSync(log, 'utf8').trim().split('\n').filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url).slice(ROOT.length));
    expect(loaded).toContain('dist/crawler.mjs');
    expect(loaded.filter((file) => !file.startsWith('dist/'))).toEqual(['cli/crawler.js']);
    const { contents } = buildInfo();
    const inside = loaded.filter((file) => file.startsWith('dist/')).flatMap((file) => contents[file.slice('dist/'.length)] ?? [`${file}?`]);
    expect(inside).toContain('cli/main.ts');
    expect(inside.filter((input) => /^(htmlparser2|parse5|zod|@aws-sdk\/|@smithy\/|functions\/core\/(parse|fetch)\/|lib\/)/.test(input) || input.endsWith('?'))).toEqual([]);
    // The engine is in the build, for the commands that need it.
    expect(Object.values(contents).flat()).toEqual(expect.arrayContaining(['htmlparser2', 'functions/core/parse/parse-pool.ts', 'lib/config.ts']));
  });

  it('fetch parses on worker threads from the build as on this thread, with the same summaries', async () => {
    const urls = [1, 2, 3, 4, 5, 6].map((n) => `${site.url}/page/${n}`);
    const args = ['fetch', '--json', '--allow-private-network', '--host-delay', '0', '--concurrency', '4'];
    const [threads, here] = await Promise.all([runCrawler([...args, '--parse-threads', '2', ...urls]), runCrawler([...args, '--parse-threads', '0', ...urls])]);
    for (const run of [threads, here]) {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
    }
    const summaries = (stdout: string) =>
      stdout.trim().split('\n').map((line) => {
        const { durationMs: _d, fetchedAt: _f, ...summary } = JSON.parse(line) as Record<string, unknown>;
        return summary;
      });
    expect(summaries(threads.stdout).map((s) => [s['url'], s['ok']])).toEqual(urls.map((url) => [url, true]));
    expect(summaries(threads.stdout)).toEqual(summaries(here.stdout));
  });
});

describe('the bin without a current build', () => {
  /** A copy of the bin in a tree of its own, with a stand-in for the build and for the sources. */
  function tree(): string {
    const dir = mkdtempSync(join(tmpdir(), 'crawler-tree-'));
    mkdirSync(join(dir, 'cli'));
    cpSync(BIN, join(dir, 'cli/crawler.js'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
    writeFileSync(join(dir, 'cli/main.ts'), "const from: string = 'the sources';\nconsole.log(from);\n");
    return dir;
  }
  function build(dir: string, startedAt: number): void {
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'dist/crawler.mjs'), "console.log('the build');\n");
    writeFileSync(join(dir, 'dist/build.json'), JSON.stringify({ startedAt, sources: ['cli/main.ts'], contents: {} }));
  }
  const run = (dir: string) => startProcess(process.execPath, [join(dir, 'cli/crawler.js')]).done;

  it('runs the build while no source is newer than it', async () => {
    const dir = tree();
    build(dir, Date.now() + 60_000);
    const { code, stdout, stderr } = await run(dir);
    expect([code, stdout, stderr]).toEqual([0, 'the build\n', '']);
  });

  it('compiles the sources with tsx, and says why, when there is no build', async () => {
    const dir = tree();
    const { code, stdout, stderr } = await run(dir);
    expect([code, stdout]).toEqual([0, 'the sources\n']);
    expect(stderr).toMatch(COMPILING);
    expect(stderr).toMatch(/there is no build.*npm run build:cli/);
  });

  it('compiles the sources when one changed after the build, or is gone', async () => {
    const dir = tree();
    build(dir, Date.now() - 60_000);
    const changed = await run(dir);
    expect(changed.stdout).toBe('the sources\n');
    expect(changed.stderr).toMatch(/cli\/main\.ts changed after it was built/);
    // Built after the source's last change: current again.
    const touched = new Date(Date.now() - 120_000);
    utimesSync(join(dir, 'cli/main.ts'), touched, touched);
    expect((await run(dir)).stdout).toBe('the build\n');
    writeFileSync(join(dir, 'dist/build.json'), JSON.stringify({ startedAt: Date.now(), sources: ['cli/main.ts', 'cli/gone.ts'], contents: {} }));
    expect((await run(dir)).stderr).toMatch(/cli\/gone\.ts, which it was built from, is gone/);
  });
});
