import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { CrawlerStack } from '../../lib/crawler-stack.js';

/**
 * cfn-lint checks the synthesized template against CloudFormation's own resource specifications: what the CDK
 * assertions cannot see, such as a property value a resource type does not accept. Errors (E) fail the test.
 * Warnings (W) and informational findings (I) are printed, not failed on: they are advice, not something that stops a
 * deploy, and often about what CDK generates. Today there is one: W3005 on each function, CDK's explicit DependsOn on
 * its role, which the Role GetAtt already implies.
 */

interface Finding {
  Rule: { Id: string };
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Filename: string;
  Location: { Path: (string | number)[] };
}

/** cfn-lint as installed for Python: the `cfn-lint` script, or the module where only that is on the path. */
function runCfnLint(templates: string[]): Finding[] {
  const args = ['--format', 'json', '--', ...templates];
  for (const [command, prefix] of [['cfn-lint', []], ['python3', ['-m', 'cfnlint']]] as const) {
    const run = spawnSync(command, [...prefix, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    // Not found: a spawn error, a pyenv shim's 127, or a Python without the module.
    if (run.error || run.status === 127 || /No module named cfnlint/.test(run.stderr)) continue;
    // Exit status is a bit mask of the levels found (2 error, 4 warning, 8 informational); 1 is cfn-lint failing.
    if (run.status === 1 || run.stdout.trim() === '') throw new Error(`cfn-lint failed (status ${run.status}):\n${run.stderr}`);
    return JSON.parse(run.stdout) as Finding[];
  }
  throw new Error('cfn-lint is not installed: `pip install cfn-lint` (Python 3) so that `cfn-lint` or `python3 -m cfnlint` runs.');
}

type Settings = Record<string, Record<string, unknown>>;
/** The shipped cdk.json's context: its feature flags and its `crawler` settings. */
const shippedContext = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as { crawler: Settings };
const shipped = shippedContext.crawler;

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Synthesizes the stack as bin/app.ts does from the shipped cdk.json (its feature flags too), without bundling. */
function synthTemplate(overrides: Settings = {}): string {
  const crawler = { ...shipped, ...overrides };
  const outdir = mkdtempSync(join(tmpdir(), 'crawler-cfn-lint-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { ...shippedContext, crawler, 'aws:cdk:bundling-stacks': [] } });
  new CrawlerStack(app, 'ServerlessCrawler', { config: parseCrawlerConfig(crawler) });
  return app.synth().getStackByName('ServerlessCrawler').templateFullPath;
}

describe('cfn-lint', () => {
  it('finds no errors in the template, as shipped, with an alarm email, and without the account CloudWatch role', () => {
    const variants = new Map([
      [synthTemplate(), 'shipped'],
      [synthTemplate({ observability: { ...shipped['observability'], alarmEmail: 'ops@example.com' } }), 'alarmEmail'],
      [synthTemplate({ api: { ...shipped['api'], createCloudWatchRole: false } }), 'no CloudWatch role'],
    ]);
    // A template with a known error goes along in the same run, to show the check is live (one cfn-lint start).
    const broken = join(outdirs[0]!, 'broken.template.json');
    writeFileSync(broken, JSON.stringify({ Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 'soon' } } } }));
    const all = runCfnLint([...variants.keys(), broken]);
    expect(all.filter((f) => f.Filename === broken && f.Level === 'Error')).not.toEqual([]);
    const findings = all.filter((f) => f.Filename !== broken);
    const describe = (f: Finding) => `[${variants.get(f.Filename) ?? f.Filename}] ${f.Rule.Id} at ${f.Location.Path.join('/')}: ${f.Message}`;
    for (const f of findings.filter((f) => f.Level !== 'Error')) console.log(`cfn-lint ${f.Level.toLowerCase()} ${describe(f)}`);
    expect(findings.filter((f) => f.Level === 'Error').map(describe)).toEqual([]);
  }, 120_000);
});
