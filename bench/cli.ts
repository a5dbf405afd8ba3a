/**
 * `npm run bench -- cli`: the `crawler` command as a user runs it, a whole process with its start included, against
 * Crawlee 3.18's CheerioCrawler (tuned as in bench/throughput-worker.ts) on the same URLs in the same run: 2,000 URLs
 * of the real-page corpus on a loopback site answering after 50 ms, concurrency 64, each crawler pinned to ONE core.
 * Then `crawler --help` (the bin itself) against a bare `node -e 0`.
 *
 * The crawlers run on core 0 (`taskset -c 0`); this process and the site are moved to core 1, so neither takes the
 * crawler's core. Peak RSS is the process tree's: the crawler's own high-water mark (/proc/PID/status VmHWM, which
 * counts every thread of the process, parse workers included) plus the RSS of any process it started, sampled every
 * 50 ms.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { printTable } from './table.js';
import { startCorpusSite } from './throughput.js';

const LATENCY_MS = 50;
const PAGES = 2_000;
const CONCURRENCY = 64;
const HELP_RUNS = 15;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}cli/crawler.js`;
const WORK = `${ROOT}node_modules/.cache/bench-cli/`;

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((path) => existsSync(path));
/** Runs on core 0 when taskset is there, and the machine has a core 1 for everything else. */
const PINNED = TASKSET !== undefined && availableParallelism() >= 2;
const onCoreZero = (command: string, args: string[]): [string, string[]] => (PINNED ? [TASKSET!, ['-c', '0', command, ...args]] : [command, args]);

interface Result {
  seconds: number;
  peakRss: number;
  /** CPU seconds (user + system) of the tree, as last sampled. */
  cpuSeconds: number;
  ok: number;
}

/** The kernel's clock ticks per second, in which /proc/PID/stat counts CPU time. */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system, every thread) a process has used so far; 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    // The fields after the command name (in parentheses, which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** The KB figure of a /proc/PID/status line, as bytes; 0 when the process is gone. */
function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every process below `pid`, from the kernel's children lists of each of its threads. */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const visit = (parent: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      return;
    }
    for (const task of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
        found.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return found;
}

/** Runs a process to its end: wall seconds from spawn to exit, the tree's peak RSS, and its stdout. */
async function measure(command: string, args: string[]): Promise<{ seconds: number; peakRss: number; cpuSeconds: number; stdout: string }> {
  const [file, argv] = onCoreZero(command, args);
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  let peakRss = 0;
  let cpu = 0;
  const sample = () => {
    // taskset execs the command, so the child's pid is the crawler's.
    const others = descendants(child.pid!);
    const tree = statusBytes(child.pid!, 'VmHWM') + others.reduce((sum, pid) => sum + statusBytes(pid, 'VmRSS'), 0);
    peakRss = Math.max(peakRss, tree);
    cpu = Math.max(cpu, cpuSeconds(child.pid!) + others.reduce((sum, pid) => sum + cpuSeconds(pid), 0));
  };
  const sampler = setInterval(sample, 50);
  const closed = new Promise((resolve) => child.on('close', resolve));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => (sample(), resolve(c))));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  await closed;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  return { seconds, peakRss, cpuSeconds: cpu, stdout };
}

/** `crawler fetch` as a user runs it: the bin (its compiled build), every summary printed as JSON. */
async function crawlerFetch(urlsFile: string): Promise<Result> {
  const { stdout, ...run } = await measure(process.execPath, [
    BIN, 'fetch', '--json', '--concurrency', String(CONCURRENCY), '--host-delay', '0', '--ignore-robots', '--allow-private-network', '--file', urlsFile,
  ]);
  const lines = stdout.trim().split('\n');
  if (lines.length !== PAGES) throw new Error(`crawler fetch printed ${lines.length} lines, not ${PAGES}`);
  return { ...run, ok: lines.filter((line) => (JSON.parse(line) as { ok: boolean }).ok).length };
}

/**
 * Crawlee's CheerioCrawler as bench/throughput-worker.ts runs it, compiled to JavaScript first (its imports of
 * node_modules left as they are), so it too starts as a user's program would, without a TypeScript loader.
 */
async function crawlee(site: string): Promise<Result> {
  const script = `${WORK}throughput-worker.mjs`;
  await build({ entryPoints: [`${ROOT}bench/throughput-worker.ts`], outfile: script, bundle: true, packages: 'external', platform: 'node', format: 'esm', logLevel: 'error' });
  const { stdout, ...run } = await measure(process.execPath, [script, 'crawlee', String(CONCURRENCY), site, String(PAGES)]);
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { ok: number; pages: number };
  if (report.pages !== PAGES) throw new Error(`Crawlee reported ${report.pages} pages, not ${PAGES}`);
  return { ...run, ok: report.ok };
}

/** Median wall milliseconds of fresh processes running each command, on core 0 like the crawls, taken in turn. */
function medianMs(commands: [string, string[]][]): number[] {
  const times: number[][] = commands.map(() => []);
  for (let i = 0; i < HELP_RUNS; i++) {
    commands.forEach(([command, args], c) => {
      const [file, argv] = onCoreZero(command, args);
      const started = process.hrtime.bigint();
      const out = spawnSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      times[c]!.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (out.status !== 0 || out.stderr !== '') throw new Error(`${command} ${args.join(' ')}: exit ${out.status} ${out.stderr}`);
    });
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

export async function benchCli(): Promise<void> {
  // The build the bin runs (npm test and npm install make it too); the bench measures the command as shipped.
  const built = spawnSync(process.execPath, [`${ROOT}cli/build.mjs`], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('cli/build.mjs failed');
  mkdirSync(WORK, { recursive: true });
  const load = loadavg().map((l) => l.toFixed(2)).join(', ');
  // This process, and the site it starts, leave core 0 to the crawler being measured (until the crawls are done).
  const cores = PINNED ? /list:\s*(\S+)/.exec(spawnSync(TASKSET!, ['-p', '-c', String(process.pid)], { encoding: 'utf8' }).stdout)?.[1] : undefined;
  if (cores) spawnSync(TASKSET!, ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  let ours: Result;
  let theirs: Result;
  try {
    const { site, stop } = await startCorpusSite(LATENCY_MS);
    try {
      const urlsFile = `${WORK}urls.txt`;
      writeFileSync(urlsFile, Array.from({ length: PAGES }, (_, i) => `${site}/p/${i}\n`).join(''));
      ours = await crawlerFetch(urlsFile);
      theirs = await crawlee(site);
    } finally {
      stop();
    }
  } finally {
    if (cores) spawnSync(TASKSET!, ['-a', '-p', '-c', cores, String(process.pid)], { stdio: 'ignore' });
  }
  const rate = (r: Result) => PAGES / r.seconds;
  const where = PINNED ? 'one core (taskset -c 0)' : 'NOT pinned to one core (no taskset, or a single-core machine)';
  console.log(`\nThe crawler command against Crawlee, whole processes with their start: ${PAGES} URLs of the real-page corpus on a loopback site answering after ${LATENCY_MS} ms, concurrency ${CONCURRENCY}, ${where}; node ${process.version}; load average before: ${load}`);
  printTable(
    ['crawler', 'seconds', 'pages/s', 'peak RSS MB', 'CPU s', 'ok'],
    [ours, theirs].map((r, i) => [
      i === 0 ? 'crawler fetch --json (the bin, compiled)' : 'Crawlee 3.18 CheerioCrawler (baseline)',
      r.seconds.toFixed(1),
      rate(r).toFixed(0),
      (r.peakRss / 1e6).toFixed(0),
      r.cpuSeconds.toFixed(1),
      `${r.ok}/${PAGES}`,
    ]),
  );
  const speed = rate(ours) / rate(theirs);
  const memory = ours.peakRss / theirs.peakRss;
  console.log(`  crawler fetch: ${speed.toFixed(2)}× Crawlee's pages/s at ${memory.toFixed(2)}× its peak RSS (goal: ≥ 4× at ≤ 0.5×: ${speed >= 4 && memory <= 0.5 ? 'met' : 'not met'})`);
  // On a shared machine the core is not the crawler's alone: CPU time says what each would do with the core to itself.
  console.log(`  CPU time per page: ${((1000 * ours.cpuSeconds) / PAGES).toFixed(2)} ms against ${((1000 * theirs.cpuSeconds) / PAGES).toFixed(2)} ms (${(theirs.cpuSeconds / ours.cpuSeconds).toFixed(2)}× less)`);

  const [bare, help] = medianMs([
    [process.execPath, ['-e', '0']],
    [process.execPath, [BIN, '--help']],
  ]) as [number, number];
  console.log(`\ncrawler --help (the bin, cli/crawler.js) against a bare node -e 0, median of ${HELP_RUNS} fresh processes each, taken in turn`);
  printTable(
    ['process', 'ms'],
    [
      ['node -e 0', bare.toFixed(0)],
      ['crawler --help', help.toFixed(0)],
    ],
  );
  console.log(`  crawler --help: ${(help / 1000).toFixed(3)} s, ${(help - bare).toFixed(0)} ms over bare node (goal: ≤ 0.15 s: ${help <= 150 ? 'met' : 'not met'})`);
}
