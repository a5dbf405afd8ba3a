#!/usr/bin/env node
/**
 * Compiles the `crawler` command (cli/main.ts and what it imports) to plain JavaScript in dist/, so that the bin,
 * cli/crawler.js, starts without compiling TypeScript. npm runs it as the `prepare` script (on `npm install` and
 * `npm ci` in this repository) and before `npm test`; `npm run build:cli` runs it by hand.
 *
 * The output is split at the CLI's dynamic imports: dist/crawler.mjs holds the option parsing and the help texts, and
 * a command's engine (the fetcher and parser, the configuration's schema, the AWS SDK's signing) is in chunks loaded
 * when that command runs. dist/ sits at the repository's top level, as lib/ and cli/ do, because lib/config.ts finds
 * cdk.json relative to its own module's URL (`../cdk.json`), and in the build that module is a chunk in dist/.
 *
 * dist/build.json lists the sources the build was made from and when: the bin runs the build only while none of
 * them is newer, and compiles the sources with tsx otherwise (saying so on stderr). It also lists what each output
 * file holds.
 *
 * Plain JavaScript (not TypeScript) so that it runs wherever the package is installed, before anything is compiled.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist`;

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // esbuild is a devDependency: an install without them (--omit=dev) gets no build, and the bin compiles with tsx.
  process.stderr.write('cli/build.mjs: esbuild is not installed; the crawler command will compile its TypeScript on each start (tsx)\n');
  process.exit(0);
}

/**
 * Imports of these Node built-ins loaded with require() instead: an ESM import of a built-in builds its ESM facade,
 * which reads every export, and node:http's include lazy getters that load undici (some 40 ms of each start).
 */
function builtinsByRequire(names) {
  const filter = new RegExp(`^(${names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);
  return {
    name: 'builtins-by-require',
    setup(build) {
      // The require() in the stand-in module is left to esbuild, which keeps it (a built-in is external).
      build.onResolve({ filter }, (args) => (args.namespace === 'builtin-by-require' ? undefined : { path: args.path, namespace: 'builtin-by-require' }));
      build.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    },
  };
}

const startedAt = Date.now();
// Built beside dist/ and moved into place whole, so a crawler started meanwhile sees the old build or none, never half.
const staging = `${root}dist.tmp-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging);
try {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { crawler: 'cli/main.ts' },
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.18',
    mainFields: ['module', 'main'],
    // Some CommonJS dependencies call require() for Node built-ins; an ESM bundle needs it defined.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: [builtinsByRequire(['node:http', 'node:https'])],
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'error',
  });
  // A dependency's path may lead out of the project (node_modules a link to another checkout's): it is one still.
  const dependency = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/;
  const sources = Object.keys(result.metafile.inputs)
    .filter((input) => !dependency.test(input) && !input.includes(':'))
    .sort();
  // What each output file holds: our sources by path, dependencies by package name (what a test of the lazy loading reads).
  const owner = (input) => dependency.exec(input)?.[1] ?? input;
  const contents = Object.fromEntries(
    Object.entries(result.metafile.outputs).map(([file, output]) => [basename(file), [...new Set(Object.keys(output.inputs).map(owner))].sort()]),
  );
  writeFileSync(`${staging}/build.json`, `${JSON.stringify({ startedAt, sources, contents }, null, 1)}\n`);
  rmSync(outdir, { recursive: true, force: true });
  renameSync(staging, outdir);
} catch (err) {
  rmSync(staging, { recursive: true, force: true });
  throw err;
}
