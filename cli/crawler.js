#!/usr/bin/env node
// The `crawler` command. It runs the compiled build in dist/ (cli/build.mjs, run by `npm install`, `npm ci` and
// `npm test`), which starts in a few tens of milliseconds. Without a build, or when a source it was built from has
// changed since, it compiles the TypeScript sources with tsx instead (a second or so on each start) and says so.
import { readFileSync, statSync } from 'node:fs';
import module from 'node:module';

// Node 22.1+ keeps V8's compiled code of the modules on disk (in the system's temporary folder) for the next start.
module.enableCompileCache?.();

const root = new URL('../', import.meta.url);

/** Why the build cannot be used, or null when it is current. */
function staleness() {
  let build;
  try {
    build = JSON.parse(readFileSync(new URL('dist/build.json', root), 'utf8'));
  } catch {
    return 'there is no build (dist/build.json)';
  }
  for (const source of build.sources) {
    let modified;
    try {
      modified = statSync(new URL(source, root)).mtimeMs;
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
