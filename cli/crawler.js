#!/usr/bin/env node
// The `crawler` command. It runs the compiled build in dist/ (cli/build.mjs, run by `npm install`, `npm ci` and
// `npm test`), which starts in a few tens of milliseconds. Without a build, or when a source it was built from has
// changed since, it compiles the TypeScript sources with tsx instead (a second or so on each start) and says so.
// Built-ins through process.getBuiltinModule, not import: importing node:fs builds its ESM facade, which reads every
// export, and its lazy ReadStream getter loads the streams (a sixth of --help's time, profiled).
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const module = process.getBuiltinModule('node:module');
const { fileURLToPath } = process.getBuiltinModule('node:url');

// Node 22.1+ keeps V8's compiled code of the modules on disk (in the system's temporary folder) for the next start.
module.enableCompileCache?.();

const root = fileURLToPath(new URL('../', import.meta.url));

/** Why the build cannot be used, or null when it is current. */
function staleness() {
  let build;
  try {
    build = JSON.parse(readFileSync(`${root}dist/build.json`, 'utf8'));
  } catch {
    return 'there is no build (dist/build.json)';
  }
  for (const source of build.sources) {
    let modified;
    try {
      modified = statSync(`${root}${source}`).mtimeMs;
    } catch {
      return `${source}, which it was built from, is gone`;
    }
    if (modified > build.startedAt) return `${source} changed after it was built`;
  }
  return null;
}

const stale = staleness();
if (stale === null) {
  await import('../dist/crawler.mjs');
} else {
  process.stderr.write(`crawler: compiling the TypeScript sources (${stale}); npm run build:cli makes starts fast again\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
