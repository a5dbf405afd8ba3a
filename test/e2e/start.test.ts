import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { call, waitForCompletion } from '../support/api.js';
import { startSite } from '../support/site.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What `npm start` runs, as a child process. */
function start(env: Record<string, string | undefined>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], { cwd: ROOT, env: { ...process.env, ...env } as NodeJS.ProcessEnv });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('npm start', () => {
  it('prints a ready line with a working curl example, crawls, and stops cleanly on Ctrl-C', async () => {
    const site = await startSite();
    const run = start({ PORT: '0', ALLOW_PRIVATE_NETWORK: 'true' });
    try {
      const deadline = Date.now() + 45_000;
      while (!/ready in/.test(run.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const out = run.output();
      expect(out).toMatch(/serverless-crawler local stack ready in [\d.]+ s/);
      expect(out).not.toMatch(/NodeVersionSupportWarning/);
      const api = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      expect(out).toContain(`curl -s -X POST ${api}/crawls -H 'content-type: application/json'`);

      const submit = await call(api, 'POST', '/crawls', { urls: [`${site.url}/page/1`, `${site.url}/page/2`] });
      expect(submit.status).toBe(202);
      expect(await waitForCompletion(api, submit.body.crawlId, 20_000)).toMatchObject({ total: 2, succeeded: 2 });

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.output()).toMatch(/stopped/);
      await expect(fetch(`${api}/crawls`)).rejects.toThrow();
    } finally {
      run.child.kill('SIGKILL');
      await site.close();
    }
  }, 60_000);

  it('explains a missing Java in one sentence, without a stack trace', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'no-java-'));
    await symlink(process.execPath, join(bin, 'node'));
    const run = start({ PATH: bin });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/DynamoDB Local needs Java 17 or newer \(no `java` on the PATH\)\. Install it/);
    expect(run.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses a bad PORT', async () => {
    const run = start({ PORT: 'eighty' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/PORT must be a port number/);
  });
});
