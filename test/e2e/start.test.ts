import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { call, waitForCompletion } from '../../harness/api.js';
import { startProcess, type Started } from '../support/processes.js';
import { startSite } from '../support/site.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What `npm start` runs, as a child process (or `npm start` itself, with `viaNpm`). */
function start(env: Record<string, string | undefined>, args: string[] = [], viaNpm = false): Started {
  const [command, argv] = viaNpm ? ['npm', ['start', ...(args.length ? ['--', ...args] : [])]] : [process.execPath, ['--import', 'tsx', 'local/start.ts', ...args]];
  return startProcess(command, argv, { cwd: ROOT, env });
}

/** Waits for the ready banner (or the process's end) and returns the output so far. */
async function ready(run: ReturnType<typeof start>): Promise<string> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  const deadline = Date.now() + 45_000;
  while (!/ready in/.test(run.output().all) && !ended && Date.now() < deadline) await sleep(100);
  expect(run.output().all).toMatch(/serverless-crawler local stack ready in [\d.]+ s/);
  return run.output().all;
}

/** The pids of the DynamoDB Local processes (java … DynamoDBLocal.jar … -port PORT) listening on `port`. */
function dynamoDbLocalPids(port: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    const at = args.indexOf('-port');
    if (args.some((a) => a.endsWith('DynamoDBLocal.jar')) && at >= 0 && args[at + 1] === String(port)) pids.push(Number(entry));
  }
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

/** Waits (bounded) until no DynamoDB Local runs for `port` and the port refuses connections. */
async function expectEngineGone(port: number, pids: number[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((pids.some(alive) || !(await refused(port))) && Date.now() < deadline) await sleep(100);
  expect(pids.filter(alive)).toEqual([]);
  expect(dynamoDbLocalPids(port)).toEqual([]);
  expect(await refused(port)).toBe(true);
}

/** The ready banner of a stack started with these settings; the stack is stopped (SIGKILL) before it returns. */
async function readyBanner(env: Record<string, string | undefined>, args: string[]): Promise<string> {
  const run = start(env, args);
  try {
    return await ready(run);
  } finally {
    run.child.kill('SIGKILL');
    await run.exited;
  }
}

const dynamoDbPort = (banner: string) => Number(/DynamoDB\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);

describe('npm start', () => {
  it('prints a ready line with a working curl example, crawls, and stops cleanly on Ctrl-C', async () => {
    const site = await startSite();
    const run = start({ PORT: '0', ALLOW_PRIVATE_NETWORK: 'true' });
    try {
      const deadline = Date.now() + 45_000;
      while (!/ready in/.test(run.output().all) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const out = run.output().all;
      expect(out).toMatch(/serverless-crawler local stack ready in [\d.]+ s/);
      expect(out).toMatch(/\n  config +cdk\.json\n/);
      expect(out).not.toMatch(/NodeVersionSupportWarning/);
      const api = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      expect(out).toContain(`curl -s -X POST ${api}/crawls -H 'content-type: application/json'`);

      const submit = await call(api, 'POST', '/crawls', { urls: [`${site.url}/page/1`, `${site.url}/page/2`] });
      expect(submit.status).toBe(202);
      expect(await waitForCompletion(api, submit.body.crawlId, 20_000)).toMatchObject({ total: 2, succeeded: 2 });

      const ddbPort = dynamoDbPort(out);
      const java = dynamoDbLocalPids(ddbPort);
      expect(java).toHaveLength(1);

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.output().all).toMatch(/stopped/);
      await expect(fetch(`${api}/crawls`)).rejects.toThrow();
      await expectEngineGone(ddbPort, java);
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
    expect(run.output().all).toMatch(/DynamoDB Local needs Java 17 or newer \(no `java` on the PATH\)\. Install it/);
    expect(run.output().all).not.toMatch(/\n\s+at /);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('leaves no DynamoDB Local running when its process gets %s', async (signal) => {
    const run = start({ PORT: '0' });
    try {
      const ddbPort = dynamoDbPort(await ready(run));
      const java = dynamoDbLocalPids(ddbPort);
      expect(java).toHaveLength(1);
      run.child.kill(signal);
      await run.exited;
      await expectEngineGone(ddbPort, java);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 60_000);

  it('stops everything when `npm start` itself gets SIGKILL: the stack, its API port and DynamoDB Local', async () => {
    const run = start({ PORT: '0' }, [], true);
    try {
      const banner = await ready(run);
      const apiPort = Number(/API\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      const ddbPort = dynamoDbPort(banner);
      const java = dynamoDbLocalPids(ddbPort);
      expect(java).toHaveLength(1);
      run.child.kill('SIGKILL');
      await run.exited;
      await expectEngineGone(ddbPort, java);
      const deadline = Date.now() + 15_000;
      while (!(await refused(apiPort)) && Date.now() < deadline) await sleep(100);
      expect(await refused(apiPort)).toBe(true);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 60_000);

  it('runs with the crawler settings of --config FILE, and names the file in the ready banner', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'start-config-'));
    const file = join(dir, 'other.json');
    const crawler = { consumer: { batchSize: 7, maxBatchingWindowSeconds: 2, maxConcurrency: 3, pageConcurrency: 7 } };
    await writeFile(file, JSON.stringify({ context: { crawler } }));
    const banner = await readyBanner({ PORT: '0' }, ['--config', file]);
    expect(banner).toMatch(new RegExp(`\\n  config +${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
    expect(banner).toMatch(/consumer +batch 7, window 2s, 7 pages at once, up to 3 containers for each of its queues \(maxConcurrency 3\)\n/);
  }, 60_000);

  it('caps containers per function with --containers, and says so in the banner', async () => {
    const banner = await readyBanner({ PORT: '0' }, ['--containers', '2']);
    expect(banner).toMatch(/consumer +batch 16, window 1s, 16 pages at once, up to 2 containers for each of its queues \(maxConcurrency 20, capped at 2 on this machine: --containers N\)/);
  }, 60_000);

  it.each([
    [['--config', '/no/such/crawler.json'], /^npm start: cannot read the config file \/no\/such\/crawler\.json: no such file$/m],
    [['--config'], /npm start: Option '--config <value>' argument missing\n\nUsage: npm start \[-- --config FILE\] \[--containers N\]/],
    [['--bogus'], /npm start: Unknown option '--bogus'\n\nUsage: npm start/],
    [['extra'], /npm start: Unexpected argument 'extra'/],
    [['--containers', 'lots'], /npm start: --containers must be a whole number of at least 1, not "lots"/],
  ])('exits 2 with a message for bad arguments: %j', async (args, message) => {
    const run = start({ PORT: '0' }, args);
    expect(await run.exited).toBe(2);
    expect(run.output().all).toMatch(message);
    expect(run.output().all).not.toMatch(/\n\s+at |starting DynamoDB/);
  });

  it.each([
    ['not JSON', '{"context": ', /npm start: the config file .*bad\.json is not JSON: /],
    ['without "crawler" settings', '{"crawler": {"retentionDays": 3}}', /npm start: the config file .*bad\.json has no "crawler" settings: it is shaped like cdk\.json/],
    ['invalid settings', '{"context": {"crawler": {"consumer": {"batchSize": "many"}}}}', /npm start: .*bad\.json: Invalid "crawler" configuration[^]*consumer\.batchSize/],
  ])('exits 2 for a --config file %s, saying why', async (_what, text, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'start-config-'));
    await writeFile(join(dir, 'bad.json'), text);
    const run = start({ PORT: '0' }, ['--config', join(dir, 'bad.json')]);
    expect(await run.exited).toBe(2);
    expect(run.output().all).toMatch(message);
    expect(run.output().all).not.toMatch(/\n\s+at /);
  });

  it('reads a relative --config path from where npm start was typed (INIT_CWD)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'start-config-'));
    const run = start({ PORT: '0', INIT_CWD: dir }, ['--config', 'mine.json']);
    expect(await run.exited).toBe(2);
    expect(run.output().all).toMatch(/cannot read the config file mine\.json: no such file/);
    await writeFile(join(dir, 'mine.json'), JSON.stringify({ context: { crawler: { consumer: { batchSize: 5, pageConcurrency: 5 } } } }));
    expect(await readyBanner({ PORT: '0', INIT_CWD: dir }, ['--config', 'mine.json'])).toMatch(/consumer +batch 5,/);
  }, 60_000);

  it('refuses a bad PORT', async () => {
    const run = start({ PORT: 'eighty' });
    expect(await run.exited).toBe(2);
    expect(run.output().all).toMatch(/PORT must be a port number/);
  });
});
