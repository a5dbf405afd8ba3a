import { spawn } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUMMARY_KEYS } from '../../functions/core/summary.js';
import { expectedPage, startSite } from '../support/site.js';

const CLI = fileURLToPath(new URL('../../cli/crawler.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ALLOW_PRIVATE_NETWORK: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let site: Awaited<ReturnType<typeof startSite>>;
beforeAll(async () => {
  site = await startSite();
});
afterAll(() => site?.close());

describe('crawler fetch (a real process)', () => {
  it('prints one Summary per line in input order with --json, and exits 0 even when pages failed', async () => {
    const urls = [`${site.url}/page/3`, `${site.url}/missing/1`, `${site.url}/page/8`];
    const { code, stdout } = await run(['fetch', '--json', '--allow-private-network', '--concurrency', '2', ...urls]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((s) => s.url)).toEqual(urls);
    expect(Object.keys(lines[0])).toEqual(SUMMARY_KEYS.filter((k) => k !== 'error'));
    const { path: _path, ...fields } = expectedPage(3);
    expect(lines[0]).toMatchObject({ ...fields, ok: true, status: 200 });
    expect(lines[1]).toMatchObject({ ok: false, status: 404, error: { code: 'HTTP_404' } });
  });

  it('reads URLs from a file, skipping blanks and comments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crawler-cli-'));
    const file = join(dir, 'urls.txt');
    await writeFile(file, `# my list\n${site.url}/page/1\n\n${site.url}/page/2\n`);
    const { code, stdout } = await run(['fetch', '--json', '--file', file], { ALLOW_PRIVATE_NETWORK: 'true' });
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).title)).toEqual([expectedPage(1).title, expectedPage(2).title]);
  });

  it('refuses loopback addresses unless allowed', async () => {
    const { code, stdout } = await run(['fetch', '--json', `${site.url}/page/1`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, error: { code: 'BLOCKED_ADDRESS' } });
  });

  it.each([
    [['fetch'], /at least one URL/],
    [['fetch', 'not a url'], /not a URL we can fetch/],
    [['fetch', '--concurrency', '0', 'https://a.example/'], /--concurrency/],
    [['fetch', '--bogus', 'https://a.example/'], /Unknown option/],
    [['fetch', '--file', '/no/such/file'], /cannot read/],
    [['nonsense'], /unknown command/],
    [['pages', 'ID', '--format', 'xml'], /--format/],
  ])('exits 2 with a message on bad usage: %j', async (args, message) => {
    const { code, stderr } = await run(args as string[]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says clearly when the API cannot be reached', async () => {
    const { code, stderr } = await run(['status', '--endpoint', 'http://127.0.0.1:9', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('prints help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/crawler <command>/);
  });
});
