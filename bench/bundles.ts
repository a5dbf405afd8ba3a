import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { resourceEnvironment } from '../functions/settings/setting.js';
import { ESBUILD_OPTIONS, HANDLER_FILES } from '../lib/bundling.js';
import { FUNCTION_SETTINGS } from '../lib/function-definitions.js';
import { printTable } from './table.js';

/** The environment a deployed function starts with, so module-scope configuration and clients initialize. */
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  // The resources the functions read (the table's name, the queue's URL); their other settings keep their defaults.
  ...resourceEnvironment(FUNCTION_SETTINGS, {
    table: 'crawls',
    queue: 'https://sqs.us-east-1.amazonaws.com/000000000000/pages',
    turnQueue: 'https://sqs.us-east-1.amazonaws.com/000000000000/page-turns',
    webhookQueue: 'https://sqs.us-east-1.amazonaws.com/000000000000/webhooks',
    eventBus: 'default',
    // Not an ARN: the deliver function takes it as the key itself instead of calling Secrets Manager at cold start.
    secret: 'bench-webhook-key',
  }),
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/** Wall milliseconds of one fresh `node` process running `args`. */
function timeProcess(args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const out = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (out.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${out.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Each Lambda bundle as CDK builds it (lib/bundling.ts), its size, and its cold start: a fresh process that imports
 * the bundle (module-scope init included: configuration, SDK clients, agents) against a bare `node -e 0`, runs
 * interleaved, median of 15.
 */
export async function benchBundles(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'crawler-bundles-'));
  try {
    const sizes = new Map<string, number>();
    for (const name of HANDLER_FILES) {
      const outfile = join(dir, `${name}.mjs`);
      await build({
        entryPoints: [new URL(`../functions/handlers/${name}.ts`, import.meta.url).pathname],
        outfile,
        ...ESBUILD_OPTIONS,
      });
      sizes.set(name, statSync(outfile).size);
      // What the Lambda runtime does at a cold start: import the handler's module.
      writeFileSync(join(dir, `start-${name}.mjs`), `await import(${JSON.stringify(outfile)});\n`);
    }
    const env = { ...process.env, ...LAMBDA_ENV };
    const times = new Map<string, number[]>([['bare', []], ...HANDLER_FILES.map((n) => [n, []] as [string, number[]])]);
    timeProcess(['-e', '0'], env); // warm the file cache
    for (let round = 0; round < 15; round++) {
      times.get('bare')!.push(timeProcess(['-e', '0'], env));
      for (const name of HANDLER_FILES) times.get(name)!.push(timeProcess([join(dir, `start-${name}.mjs`)], env));
    }
    const bare = median(times.get('bare')!);
    console.log('\nBundles: each Lambda handler as CDK builds it (ESM, minified), and its cold import + init in a fresh process');
    printTable(
      ['bundle', 'KB', 'cold start ms (median of 15)', 'over bare node'],
      [
        ['bare `node -e 0` (baseline)', '—', bare.toFixed(0), '—'],
        ...HANDLER_FILES.map((name) => {
          const ms = median(times.get(name)!);
          return [`${name}.mjs`, (sizes.get(name)! / 1000).toFixed(0), ms.toFixed(0), `+${(ms - bare).toFixed(0)} ms`];
        }),
      ],
    );
    console.log('  goals: consumer ≤ 800 KB, cold import + init ≤ bare node + 130 ms');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
