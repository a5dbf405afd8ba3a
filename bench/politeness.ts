import { fork } from 'node:child_process';
import { loadavg, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { call } from '../harness/api.js';
import { PACE_MARGIN_MS } from '../functions/core/polite/pacing-policy.js';
import { readCrawlerConfig, type CrawlerConfig } from '../lib/config.js';
import { turnEventSource } from '../lib/function-definitions.js';
import { startLocalStack } from '../local/stack.js';
import { printTable } from './table.js';

/**
 * The issue's crawl: 50 hosts at 500 ms (BENCH_HOSTS and BENCH_PAGES_PER_HOST try others), long enough (100 pages a
 * host) that what only its first seconds cost (the fan-out, each host's robots.txt) does not hide its steady pace.
 */
const HOSTS = Number(process.env['BENCH_HOSTS'] ?? 50);
const INTERVAL_MS = 500;
const PAGES_PER_HOST = Number(process.env['BENCH_PAGES_PER_HOST'] ?? 100);
/**
 * The crawl as most are started: each host's home page only (maxDepth 1), which links this many of its pages. Its
 * pages come many of one host at a time (each home page's links), so most wait for their host's turn in the turn
 * queue. Fewer pages than the listed crawl: at its pace here, 100 a host took over 12 minutes.
 */
const LINKS_PER_HOST = Number(process.env['BENCH_LINKS_PER_HOST'] ?? 20);

/** The crawl's URLs: all listed in the POST, host by host in turn, or each host's home page, which links its pages. */
type Shape = 'listed' | 'found';

interface Run {
  label: string;
  seconds: number;
  pages: number;
  pagesPerSecond: number;
  /**
   * Pages/s from the crawl's first request at any host to its last: the pace once the fan-out has queued the URLs
   * (writing every seed's record before any message is sent, which DynamoDB Local takes seconds over).
   */
  atSitesPerSecond: number;
  /** From the POST to its answer, and to the crawl's first request at any host (the fan-out, then robots.txt). */
  postAnsweredS: number;
  firstRequestS: number;
  /**
   * Pages/s over the middle 80% of the crawl's requests (from the 10th percentile of start times to the 90th): the pace
   * kept once every host is under way, without the start (the fan-out, each host's robots.txt, the first waves of
   * pages) and the last hosts' tail.
   */
  steadyPerSecond: number;
  /** Smallest start-to-start gap between two requests to one host, as the hosts measured them. */
  minGapMs: number;
  robotsFetches: number;
  outcome: string;
  /** The machine's 1-minute load average as the crawl began: other work on these cores slows the local stack. */
  load: string;
}

/**
 * A crawl spread over many hosts at the politeness the contract asks (every host its own loopback port, so its own
 * pace): its pages/s beside the politeness limit (hosts ÷ interval: no crawler can be faster without being rude) and
 * beside the same crawl with pacing off (hostDelayMs 0, robots.txt ignored), which shows what this machine's local
 * stack can do at all. The gaps are measured at the sites.
 */
export async function benchPoliteness(): Promise<void> {
  process.env['ALLOW_PRIVATE_NETWORK'] = 'true';
  const limit = HOSTS / (INTERVAL_MS / 1000);
  const config = readCrawlerConfig();
  // BENCH_ONLY=listed or found: that paced crawl alone.
  const only = process.env['BENCH_ONLY'];
  const runs: Run[] = [];
  if (only !== 'found') runs.push(await run(config, 'paced: URLs listed', 'listed', { hostDelayMs: INTERVAL_MS, robotsTxt: 'obey' }));
  if (only !== 'listed') runs.push(await run(config, 'paced: links found', 'found', { hostDelayMs: INTERVAL_MS, robotsTxt: 'obey' }));
  if (only === undefined) runs.push(await run(config, 'pacing off: URLs listed', 'listed', { hostDelayMs: 0, robotsTxt: 'ignore' }));
  console.log(
    `\nPoliteness: ${HOSTS * PAGES_PER_HOST} pages on ${HOSTS} loopback hosts (${PAGES_PER_HOST} each), through the local stack` +
      ` (API → SQS → consumer containers → DynamoDB Local, warmed up first), listed in the POST; then ${HOSTS} home pages` +
      ` (maxDepth 1) linking ${LINKS_PER_HOST} pages each, ${HOSTS * (LINKS_PER_HOST + 1)} pages found as a crawl finds them; the politeness limit at` +
      ` ${INTERVAL_MS} ms per host is ${limit} pages/s`,
  );
  // Each host's requests are at least the interval and the pacing margin apart, and its robots.txt takes one turn.
  const ceiling = (pagesPerHost: number) => (HOSTS * pagesPerHost) / ((pagesPerHost + 1) * ((INTERVAL_MS + PACE_MARGIN_MS) / 1000)) / limit;
  console.log(
    `  The most a crawl here can do, pacing exactly at ${INTERVAL_MS} + ${PACE_MARGIN_MS} ms (the margin) from its first request:` +
      ` ${(ceiling(PAGES_PER_HOST) * 100).toFixed(0)}% of the limit listed, ${(ceiling(LINKS_PER_HOST + 1) * 100).toFixed(0)}% found` +
      ` (less the time a home page's links take to be found and queued)`,
  );
  printTable(
    ['crawl', 'completed in', 'pages/s', 'of the politeness limit', 'POST answered, first request', 'at the sites: first request to last', 'steady: middle 80% of requests', 'smallest gap at a host', 'robots.txt fetches', 'outcome', 'load average before'],
    runs.map((r) => [
      r.label,
      `${r.seconds.toFixed(1)} s`,
      r.pagesPerSecond.toFixed(1),
      `${((r.pagesPerSecond / limit) * 100).toFixed(0)}%`,
      `${r.postAnsweredS.toFixed(1)} s, ${r.firstRequestS.toFixed(1)} s`,
      `${r.atSitesPerSecond.toFixed(1)} pages/s, ${((r.atSitesPerSecond / limit) * 100).toFixed(0)}%`,
      `${r.steadyPerSecond.toFixed(1)} pages/s, ${((r.steadyPerSecond / limit) * 100).toFixed(0)}%`,
      `${r.minGapMs.toFixed(0)} ms`,
      String(r.robotsFetches),
      r.outcome,
      r.load,
    ]),
  );
  console.log(
    `  Paced, each host's requests start at least ${INTERVAL_MS} ms apart plus the pacing margin; the first request of each` +
      ` host is its robots.txt. Links found come many of one host at a time: the delivery that found them fetches them itself,` +
      ` each in its turn (following on, README: Politeness), and those it cannot wait for go to the turn queue, which the consumer` +
      ` reads in batches of up to ${turnEventSource(config.consumer).batchSize}, as it reads the page queue. The crawl with pacing off shows what this machine's local stack can do at all: where that is` +
      ` below the limit, the machine is the bound. What pacing costs per page in DynamoDB and SQS requests is in` +
      ` \`npm run bench -- cost\`.`,
  );
}

/** The sites' process: their URLs, and what each saw (path, arrival time) once asked. */
async function startSites(): Promise<{ urls: string[]; report: () => Promise<[string, number][][]>; stop: () => void }> {
  const child = fork(fileURLToPath(new URL('./polite-sites-child.mjs', import.meta.url)), [JSON.stringify({ count: HOSTS, robots: ROBOTS, links: LINKS_PER_HOST })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Ahead of the stack's work where the system allows it, so a site waiting for a core does not stamp a request late.
  try {
    if (child.pid !== undefined) setPriority(child.pid, -10);
  } catch {
    // Not allowed here: the sites run at the usual priority.
  }
  const urls = await new Promise<string[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (message: { urls: string[] }) => resolve(message.urls));
  });
  const report = () =>
    new Promise<[string, number][][]>((resolve) => {
      child.once('message', (message: { records: [string, number][][] }) => resolve(message.records));
      child.send({ report: true });
    });
  return { urls, report, stop: () => child.disconnect() };
}

const ROBOTS = 'User-agent: *\nDisallow: /private/\n';

async function run(config: CrawlerConfig, label: string, shape: Shape, politeness: { hostDelayMs: number; robotsTxt: 'obey' | 'ignore' }): Promise<Run> {
  const sites = await startSites();
  // The containers npm start runs (two per core; BENCH_CONTAINERS to try others: more contend for DynamoDB Local and
  // the cores here, where on AWS each has its own).
  const containers = process.env['BENCH_CONTAINERS'] !== undefined ? Number(process.env['BENCH_CONTAINERS']) : undefined;
  const stack = await startLocalStack({ config, port: 0, ...(containers !== undefined ? { maxContainers: containers } : {}) });
  try {
    // Every consumer container started first (the page queue's by a crawl), as Lambda's are warm in a steady crawl:
    // twenty cold starts at once on a laptop's two cores would otherwise be what the first seconds measure. Its
    // requests are left out below.
    const warmUp = Array.from({ length: stack.consumerContainers * config.consumer.batchSize }, (_, i) => `${sites.urls[i % HOSTS]}/warm/${i}`);
    await crawlToEnd(stack.apiUrl, { urls: warmUp, hostDelayMs: 0, robotsTxt: 'ignore' });
    // The turn queue's containers too: as many invocations at once as the function's whole pool (local/stack.ts), an
    // empty batch loading the function in each container not yet started.
    await Promise.all(Array.from({ length: stack.functions.consume.options.maxConcurrency }, () => stack.functions.consume.invoke({ Records: [] })));
    // Host by host in turn, as a crawl seeded from many sites would be; or their home pages, and the pages they link.
    const request =
      shape === 'listed'
        ? { urls: Array.from({ length: PAGES_PER_HOST }, (_, p) => sites.urls.map((site) => `${site}/page/${p}`)).flat() }
        : { urls: sites.urls.map((site) => `${site}/`), maxDepth: 1 };
    const pages = shape === 'listed' ? HOSTS * PAGES_PER_HOST : HOSTS * (LINKS_PER_HOST + 1);
    const load = loadavg()[0]!.toFixed(1);
    const t0 = Date.now();
    const crawl = await crawlToEnd(stack.apiUrl, { ...request, ...politeness });
    const seconds = (Date.parse(crawl.completedAt) - t0) / 1000;
    const records = (await sites.report()).map((site) => site.filter(([path]) => !path.startsWith('/warm/')));
    // BENCH_TIMELINE=1: when each of the first hosts saw each request, from the POST.
    if (process.env['BENCH_TIMELINE']) for (const site of records.slice(0, 3)) console.log('timeline', site.map(([p, at]) => `${p}@${((at - t0) / 1000).toFixed(2)}`).join(' '));
    const starts = records.flatMap((site) => site.map(([, at]) => at)).sort((a, b) => a - b);
    const [p10, p90] = [Math.floor(starts.length * 0.1), Math.floor(starts.length * 0.9)];
    const gaps = records.flatMap((site) => site.slice(1).map(([, at], i) => at - site[i]![1]));
    return {
      label,
      seconds,
      pages,
      pagesPerSecond: pages / seconds,
      atSitesPerSecond: pages / ((starts.at(-1)! - starts[0]!) / 1000),
      postAnsweredS: (crawl.postedAt - t0) / 1000,
      firstRequestS: (starts[0]! - t0) / 1000,
      steadyPerSecond: (p90 - p10) / ((starts[p90]! - starts[p10]!) / 1000),
      minGapMs: Math.min(...gaps),
      robotsFetches: records.reduce((n, site) => n + site.filter(([path]) => path === '/robots.txt').length, 0),
      outcome: `${crawl.succeeded} succeeded, ${crawl.failed} failed${crawl.succeeded + crawl.failed === pages ? '' : ` of ${pages}`}`,
      load,
    };
  } finally {
    await stack.stop();
    sites.stop();
  }
}

/** POST /crawls, then the crawl once it has completed, with when the POST was answered (epoch ms). */
async function crawlToEnd(api: string, request: object): Promise<{ completedAt: string; succeeded: number; failed: number; postedAt: number }> {
  const submit = await call(api, 'POST', '/crawls', request);
  const postedAt = Date.now();
  if (submit.status !== 202) throw new Error(`submit answered ${submit.status}: ${JSON.stringify(submit.body)}`);
  for (;;) {
    const crawl = (await call(api, 'GET', `/crawls/${submit.body.crawlId}`)).body;
    if (crawl.status === 'completed') return { ...crawl, postedAt };
    await new Promise((r) => setTimeout(r, 100));
  }
}
