import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_USER_AGENT } from '../../functions/core/fetch/user-agent.js';
import type { Summary } from '../../functions/core/model/summary.js';
import type { RecordingSite } from '../../harness/polite-site.js';
import { startPoliteSiteProcess } from '../../harness/polite-site-process.js';
import { runCrawler } from '../support/processes.js';

const sites: RecordingSite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.close()));
});

/** A site in a process of its own, recording each request as it arrives. */
async function site(robots?: string): Promise<RecordingSite> {
  const s = await startPoliteSiteProcess(robots === undefined ? {} : { robots });
  sites.push(s);
  return s;
}

/** Runs `crawler fetch --json`; once it has exited, every request it made is in the sites' records. */
async function fetchJson(args: string[]): Promise<Summary[]> {
  const run = await runCrawler(['fetch', '--json', '--allow-private-network', ...args]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  await Promise.all(sites.map((s) => s.sync()));
  return run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Summary);
}

describe('crawler fetch keeps the politeness rules in its one process', () => {
  it('obeys robots.txt (fetched once) and its Crawl-delay, with the deployment User-Agent, at any --concurrency', async () => {
    const s = await site('User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n');
    const urls = [`${s.url}/a`, `${s.url}/private/x`, `${s.url}/b`, `${s.url}/c`];
    const summaries = await fetchJson(['--concurrency', '8', ...urls]);
    expect(summaries.map((x) => [x.url, x.ok, x.error?.code ?? null])).toEqual([
      [urls[0], true, null],
      [urls[1], false, 'ROBOTS_DISALLOWED'],
      [urls[2], true, null],
      [urls[3], true, null],
    ]);
    expect(s.requests.map((r) => r.path).sort()).toEqual(['/a', '/b', '/c', '/robots.txt']);
    expect(Math.min(...s.gaps())).toBeGreaterThanOrEqual(1_000);
    expect(s.requests.every((r) => r.userAgent === DEFAULT_USER_AGENT)).toBe(true);
  });

  it('paces a host by --host-delay, and by none with --host-delay 0; --ignore-robots fetches what robots.txt disallows', async () => {
    const s = await site('User-agent: *\nDisallow: /\n');
    await fetchJson(['--ignore-robots', '--host-delay', '600', `${s.url}/1`, `${s.url}/2`, `${s.url}/3`]);
    expect(s.requests.map((r) => r.path).sort()).toEqual(['/1', '/2', '/3']);
    expect(Math.min(...s.gaps())).toBeGreaterThanOrEqual(600);

    const fast = await site();
    await fetchJson(['--host-delay', '0', `${fast.url}/1`, `${fast.url}/2`, `${fast.url}/3`, `${fast.url}/4`]);
    const pages = fast.of((p) => p !== '/robots.txt').map((r) => r.at);
    expect(pages).toHaveLength(4);
    expect(Math.max(...pages) - Math.min(...pages)).toBeLessThan(500);
  });

  it("takes the host delay and the User-Agent from --config FILE, as the deployment's", async () => {
    const s = await site();
    const dir = await mkdtemp(join(tmpdir(), 'cli-polite-'));
    const config = join(dir, 'polite.json');
    await writeFile(config, JSON.stringify({ context: { crawler: { userAgent: 'examplebot/2.0 (+https://example.com/bot)', politeness: { hostDelayMs: 700 } } } }));
    await fetchJson(['--config', config, `${s.url}/1`, `${s.url}/2`]);
    expect(s.requests.map((r) => [r.path, r.userAgent]).sort()).toEqual([
      ['/1', 'examplebot/2.0 (+https://example.com/bot)'],
      ['/2', 'examplebot/2.0 (+https://example.com/bot)'],
      ['/robots.txt', 'examplebot/2.0 (+https://example.com/bot)'],
    ]);
    expect(Math.min(...s.gaps())).toBeGreaterThanOrEqual(700);
  });

  it('refuses a bad --host-delay with exit 2, naming the option', async () => {
    const run = await runCrawler(['fetch', '--host-delay', 'soon', 'https://a.example/']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--host-delay is a whole number of milliseconds from 0 to 60000, not "soon"/);
  });
});
