import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
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

/** Runs `pass` over the whole corpus for about `ms` milliseconds and returns the seconds one corpus pass took. */
async function timeCorpus(pages: CorpusPage[], pass: Pass, ms: number): Promise<number> {
  let rounds = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (const page of pages) await pass(page);
    rounds++;
  }
  return (performance.now() - started) / 1000 / rounds;
}

/**
 * Decode + parse + summary of the real-page corpus on one core, for our engine and for cheerio's default path,
 * interleaved round by round so both see the same machine; then the longest event-loop stall while a 5 MB page is
 * crawled beside 32 small fetches.
 */
export async function benchParsing(): Promise<void> {
  const pages = loadCorpus();
  const megabytes = pages.reduce((sum, page) => sum + page.bytes.length, 0) / 1e6;
  let treePages = 0;
  for (const page of pages) {
    if ((await parsePage(decodeDocument(page.bytes, page.contentType).text, 'http://127.0.0.1/')).parser === 'tree') treePages++;
  }

  const passes: [string, Pass][] = [
    ['cheerio default load + selectors (baseline)', (page) => cheerioDefaultSummary(decodeDocument(page.bytes, page.contentType).text)],
    ['this engine: decode + stream scan (+ tree builder when needed)', (page) => parsePage(decodeDocument(page.bytes, page.contentType).text, 'http://127.0.0.1/')],
    // The streaming pass alone, with and without the page's text (textHash), to show what the text costs.
    ['decode + stream scan, with the text hash', (page) => scanHtml(decodeDocument(page.bytes, page.contentType).text)],
    ['decode + stream scan, without the text hash', (page) => scanHtml(decodeDocument(page.bytes, page.contentType).text, { hashText: false })],
    ['htmlparser2 tokenizer alone, no callbacks (floor)', (page) => new Parser({}).end(page.bytes.toString('utf8'))],
  ];
  const seconds = passes.map(() => Infinity);
  for (let round = 0; round < 3; round++) {
    for (const [i, [, pass]] of passes.entries()) seconds[i] = Math.min(seconds[i]!, await timeCorpus(pages, pass, 2_000));
  }
  const baseline = seconds[0]!;
  console.log(`\nParsing: decode + parse + summary, ${pages.length} real pages (${megabytes.toFixed(1)} MB), one core, best of 3 rounds`);
  printTable(
    ['path', 'MB/s', 'pages/s', 'vs baseline'],
    passes.map(([name], i) => [name, (megabytes / seconds[i]!).toFixed(1), (pages.length / seconds[i]!).toFixed(0), `${(baseline / seconds[i]!).toFixed(2)}×`]),
  );
  console.log(`  ${treePages} of ${pages.length} pages needed the tree builder (misnested <a>, raw text, foreign content)`);

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
  const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
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
