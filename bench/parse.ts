import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Parser } from 'htmlparser2';
import { decodeDocument } from '../functions/core/parse/decode.js';
import { summarizeUrl } from '../functions/core/summarize/summarize-url.js';
import { fetchDocument } from '../functions/core/fetch/http-client.js';
import { DEFAULT_FETCH_LIMITS } from '../functions/core/fetch/fetch-limits.js';
import { parsePage } from '../functions/core/parse/parse-page.js';
import { scanHtml } from '../functions/core/parse/streaming-pass.js';
import { loadCorpus, type CorpusPage } from '../harness/corpus.js';
import { startLoopbackServer } from '../harness/loopback-server.js';
import { cheerioDefaultSummary } from './baseline.js';
import { printTable } from './table.js';

type Pass = (page: CorpusPage) => unknown;

/**
 * The parse paths compared, by name. The floor is htmlparser2's Parser with no callbacks, its tokenizer's work and
 * little more; the stream scan with the text hash is the parse every page takes in the crawler, and the engine adds
 * the tree builder for the pages that need it.
 */
const PASSES: Record<string, [label: string, pass: Pass]> = {
  cheerio: ['cheerio default load + selectors (baseline)', (page) => cheerioDefaultSummary(decodeDocument(page.bytes, page.contentType).text)],
  engine: ['this engine: decode + stream scan (+ tree builder when needed)', (page) => parsePage(decodeDocument(page.bytes, page.contentType).text, 'http://127.0.0.1/')],
  // The streaming pass alone, with and without the page's text (textHash), to show what the text costs.
  scan: ['decode + stream scan, with the text hash', (page) => scanHtml(decodeDocument(page.bytes, page.contentType).text)],
  scanWithoutText: ['decode + stream scan, without the text hash', (page) => scanHtml(decodeDocument(page.bytes, page.contentType).text, { hashText: false })],
  floor: ['htmlparser2 tokenizer alone, no callbacks (floor)', (page) => new Parser({}).end(page.bytes.toString('utf8'))],
};
const FLOOR = 'floor';
/** Rounds of 2 s for each path, the best kept: more rounds find a quieter moment on a shared machine. */
const ROUNDS = 5;

/** Seconds one pass over the corpus took: on the clock, and of the process's CPU time (user + system). */
interface PassTime {
  wall: number;
  cpu: number;
}

/** Runs `pass` over the whole corpus for about `ms` milliseconds and returns what one corpus pass took. */
async function timeCorpus(pages: CorpusPage[], pass: Pass, ms: number): Promise<PassTime> {
  let rounds = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  while (performance.now() - started < ms) {
    for (const page of pages) await pass(page);
    rounds++;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: (performance.now() - started) / 1000 / rounds, cpu: (cpu.user + cpu.system) / 1e6 / rounds };
}

/**
 * Each path is timed in a process of its own: in one process, the paths that share htmlparser2's code (its Tokenizer,
 * under the Parser and under the stream scan's subclass) would share its JIT feedback, and each would slow the
 * others down by making that code polymorphic. The processes take turns, so one core is busy at a time.
 */
const PASS_ENV = 'PARSE_BENCH_PASS';
const childPass = process.env[PASS_ENV];
if (childPass !== undefined && process.send) {
  const pages = loadCorpus();
  const [, pass] = PASSES[childPass]!;
  process.on('message', (ms: number) => void timeCorpus(pages, pass, ms).then((time) => process.send!(time)));
}

function passProcess(pass: string): { time: (ms: number) => Promise<PassTime>; close: () => void } {
  const child = fork(fileURLToPath(import.meta.url), { env: { ...process.env, [PASS_ENV]: pass }, execArgv: process.execArgv });
  return {
    time: (ms) =>
      new Promise((resolve, reject) => {
        child.once('message', (time) => resolve(time as PassTime));
        child.once('error', reject);
        child.send(ms);
      }),
    close: () => child.kill(),
  };
}

/**
 * Decode + parse + summary of the real-page corpus on one core, for our engine and for cheerio's default path,
 * round by round so all see the same machine; then the longest event-loop stall while a 5 MB page is crawled beside
 * 32 small fetches.
 */
export async function benchParsing(): Promise<void> {
  const pages = loadCorpus();
  const megabytes = pages.reduce((sum, page) => sum + page.bytes.length, 0) / 1e6;
  let treePages = 0;
  for (const page of pages) {
    if ((await parsePage(decodeDocument(page.bytes, page.contentType).text, 'http://127.0.0.1/')).parser === 'tree') treePages++;
  }

  const names = Object.keys(PASSES);
  const children = names.map(passProcess);
  const wall = names.map(() => Infinity);
  const cpu = names.map(() => Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, child] of children.entries()) {
      const time = await child.time(2_000);
      wall[i] = Math.min(wall[i]!, time.wall);
      cpu[i] = Math.min(cpu[i]!, time.cpu);
    }
  }
  for (const child of children) child.close();
  const floor = names.indexOf(FLOOR);
  console.log(`\nParsing: decode + parse + summary, ${pages.length} real pages (${megabytes.toFixed(1)} MB), one core, best of ${ROUNDS} rounds`);
  printTable(
    ['path', 'MB/s', 'pages/s', 'vs baseline', '% of floor', 'MB per CPU s', '% of floor, CPU'],
    names.map((name, i) => [
      PASSES[name]![0],
      (megabytes / wall[i]!).toFixed(1),
      (pages.length / wall[i]!).toFixed(0),
      `${(wall[0]! / wall[i]!).toFixed(2)}×`,
      `${((wall[floor]! / wall[i]!) * 100).toFixed(1)}%`,
      (megabytes / cpu[i]!).toFixed(1),
      `${((cpu[floor]! / cpu[i]!) * 100).toFixed(1)}%`,
    ]),
  );
  console.log(`  ${treePages} of ${pages.length} pages needed the tree builder (misnested <a>, raw text, foreign content)`);
  console.log('  the goal (issue 15): the stream scan with the text hash, the parse every page takes, at 90% of the floor or more');
  console.log("  MB/s is on the clock; MB per CPU s counts the path's process's own CPU time, steadier where other work shares the cores");

  await benchEventLoop(pages);
}

/** The longest event-loop stall while a 5 MB page is fetched and parsed among 32 small fetches in flight. */
async function benchEventLoop(pages: CorpusPage[]): Promise<void> {
  const largest = pages.reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  const html = largest.bytes.toString('utf8');
  const bodyAt = html.indexOf('<body');
  const filler = html.slice(bodyAt, html.lastIndexOf('</body>'));
  let big = html.slice(0, bodyAt);
  while (big.length < 5_000_000) big += filler;
  const bigPage = Buffer.from(big.slice(0, 5_000_000));
  const small = pages.slice(0, 32).map((page) => page.bytes);

  const site = await startLoopbackServer((req, res) => {
    const path = req.url!;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(path === '/big' ? bigPage : small[Number(path.slice(1)) % small.length]);
  });
  // The deadlines are the bench's, not the crawler's: on a busy machine the baseline's 5 MB parses hold the loop long
  // enough to time out the fetches beside them, and the bench measures the stalls, not whether a fetch would fail.
  const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true, timeoutMs: 120_000, connectTimeoutMs: 60_000, headersTimeoutMs: 60_000 };
  const engines: [string, (url: string) => Promise<unknown>][] = [
    ['cheerio default load (baseline)', async (url) => {
      const doc = await fetchDocument(url, limits);
      return cheerioDefaultSummary(decodeDocument(doc.body!, doc.contentType).text);
    }],
    ['this engine (summarizeUrl)', (url) => summarizeUrl(url, limits)],
  ];
  const rows: string[][] = [];
  for (const [name, crawl] of engines) {
    for (let warm = 0; warm < 2; warm++) await crawl(`${site.url}/big`);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const started = performance.now();
    const smallLatencies: number[] = [];
    let running = true;
    const smallLoop = async (worker: number) => {
      for (let i = worker; running; i += 32) {
        const t = performance.now();
        await crawl(`${site.url}/${i}`);
        smallLatencies.push(performance.now() - t);
      }
    };
    const loops = Array.from({ length: 32 }, (_, w) => smallLoop(w));
    for (let i = 0; i < 3; i++) await crawl(`${site.url}/big`);
    running = false;
    await Promise.all(loops);
    histogram.disable();
    smallLatencies.sort((a, b) => a - b);
    rows.push([
      name,
      (histogram.max / 1e6).toFixed(1),
      (histogram.percentile(99) / 1e6).toFixed(1),
      smallLatencies[Math.floor(smallLatencies.length * 0.99)]!.toFixed(1),
      ((performance.now() - started) / 1000).toFixed(2),
    ]);
  }
  await site.close();
  console.log('\nEvent loop: three 5.0 MB pages crawled while 32 small fetches run alongside');
  printTable(['engine', 'longest stall ms', 'p99 delay ms', 'small-fetch p99 ms', 'wall s'], rows);
}
