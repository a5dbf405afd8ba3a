import { allPages, call } from '../harness/api.js';
import { readCrawlerConfig } from '../lib/config.js';
import { defaultMaxContainers, startLocalStack } from '../local/stack.js';
import { printTable } from './table.js';
import { startCorpusSite } from './throughput.js';

const PAGES = 2_000;
const LATENCY_MS = 50;

interface Run {
  containers: number;
  postMs: number;
  firstPageMs: number;
  completedS: number;
  meanWorkMs: number;
  pagesPerSecond: number;
  outcome: string;
  cpuSeconds: number;
}

/**
 * The whole local pipeline with the shipped configuration: 2,000 URLs of the real-page corpus (a 50 ms loopback site
 * in its own process) through POST /crawls → SQS → consumer containers → DynamoDB Local, with the local stack's
 * default containers (two per core) beside the configured consumer concurrency (what Lambda would run).
 */
export async function benchLocalStack(): Promise<void> {
  const { site: base, stop } = await startCorpusSite(LATENCY_MS);
  process.env['ALLOW_PRIVATE_NETWORK'] = 'true';
  const config = readCrawlerConfig();
  try {
    const runs = [await run(base, defaultMaxContainers()), await run(base, config.consumer.maxConcurrency)];
    console.log(
      `\nLocal stack end to end: ${PAGES} corpus URLs (${LATENCY_MS} ms site) through API → SQS → consumer → DynamoDB Local, shipped configuration` +
        ` (batch ${config.consumer.batchSize}, ${config.consumer.pageConcurrency} pages at once per container)`,
    );
    const [capped, full] = runs as [Run, Run];
    printTable(
      ['stage', `${capped.containers} containers (default here)`, `${full.containers} containers (maxConcurrency)`],
      [
        ['POST /crawls (validate, record, queue 2,000)', `${capped.postMs} ms`, `${full.postMs} ms`],
        ['first page fetched, from the POST', `${capped.firstPageMs} ms`, `${full.firstPageMs} ms`],
        ['all pages recorded, crawl completed', `${capped.completedS.toFixed(1)} s`, `${full.completedS.toFixed(1)} s`],
        [`fetch + parse per page (mean durationMs, incl. the site's ${LATENCY_MS} ms)`, `${capped.meanWorkMs.toFixed(0)} ms`, `${full.meanWorkMs.toFixed(0)} ms`],
        ['CPU of the stack process (API, event source, containers)', `${capped.cpuSeconds.toFixed(1)} s`, `${full.cpuSeconds.toFixed(1)} s`],
        ['outcome', capped.outcome, full.outcome],
        ['throughput, from the POST to completion', `${capped.pagesPerSecond.toFixed(0)} pages/s`, `${full.pagesPerSecond.toFixed(0)} pages/s`],
      ],
    );
  } finally {
    stop();
  }
}

async function run(base: string, containers: number): Promise<Run> {
  const config = readCrawlerConfig();
  const stack = await startLocalStack({ config, port: 0, maxContainers: containers });
  try {
    const urls = Array.from({ length: PAGES }, (_, i) => `${base}/p/${i}`);
    const cpu = process.cpuUsage();
    const t0 = Date.now();
    // Every URL is on one loopback host: at the default 1 s between requests to a host this would measure the pacing,
    // not the pipeline. robots.txt is still read (once).
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls, hostDelayMs: 0 });
    const submitted = Date.now();
    if (submit.status !== 202) throw new Error(`submit answered ${submit.status}`);
    let crawl;
    for (;;) {
      crawl = (await call(stack.apiUrl, 'GET', `/crawls/${submit.body.crawlId}`)).body;
      if (crawl.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const used = process.cpuUsage(cpu);
    const pages = await allPages(stack.apiUrl, submit.body.crawlId, 1000);
    const fetched = pages.map((p) => Date.parse(p.fetchedAt)).sort((a, b) => a - b);
    const completed = Date.parse(crawl.completedAt);
    return {
      containers: stack.consumerContainers,
      postMs: submitted - t0,
      firstPageMs: fetched[0]! - t0,
      completedS: (completed - fetched[0]!) / 1000,
      meanWorkMs: pages.reduce((sum, p) => sum + p.durationMs, 0) / pages.length,
      pagesPerSecond: PAGES / ((completed - t0) / 1000),
      outcome: `${crawl.succeeded} succeeded, ${crawl.failed} failed`,
      cpuSeconds: (used.user + used.system) / 1e6,
    };
  } finally {
    await stack.stop();
  }
}
