import { readCrawlerConfig } from '../lib/config.js';
import { startLocalStack } from '../local/stack.js';
import { allPages, call } from '../test/support/api.js';
import { printTable } from './table.js';
import { startCorpusSite } from './throughput.js';

const PAGES = 2_000;
const LATENCY_MS = 50;

/**
 * The whole local pipeline with the shipped configuration: 2,000 URLs of the real-page corpus (a 50 ms loopback site
 * in its own process) through POST /crawls → SQS → consumer → DynamoDB Local, and where the time goes.
 */
export async function benchLocalStack(): Promise<void> {
  const { site: base, stop } = await startCorpusSite(LATENCY_MS);
  process.env['ALLOW_PRIVATE_NETWORK'] = 'true';
  const config = readCrawlerConfig();
  const stack = await startLocalStack({ config, port: 0 });
  try {
    const urls = Array.from({ length: PAGES }, (_, i) => `${base}/p/${i}`);
    const t0 = Date.now();
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls });
    const submitted = Date.now();
    if (submit.status !== 202) throw new Error(`submit answered ${submit.status}`);
    let crawl;
    for (;;) {
      crawl = (await call(stack.apiUrl, 'GET', `/crawls/${submit.body.crawlId}`)).body;
      if (crawl.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const pages = await allPages(stack.apiUrl, submit.body.crawlId, 1000);
    const fetched = pages.map((p) => Date.parse(p.fetchedAt)).sort((a, b) => a - b);
    const completed = Date.parse(crawl.completedAt);
    const meanWork = pages.reduce((sum, p) => sum + p.durationMs, 0) / pages.length;
    // Pages in flight at most: each invocation holds one batch, and works on up to pageConcurrency of it at once.
    const slots = config.consumer.maxConcurrency * Math.min(config.consumer.batchSize, config.consumer.pageConcurrency);
    const wallPerPage = ((completed - fetched[0]!) * Math.min(slots, PAGES)) / PAGES;
    console.log(
      `\nLocal stack end to end: ${PAGES} corpus URLs (${LATENCY_MS} ms site) through API → SQS → consumer → DynamoDB Local, shipped configuration` +
        ` (batch ${config.consumer.batchSize}, ${config.consumer.maxConcurrency} pollers × ${config.consumer.pageConcurrency} pages)`,
    );
    printTable(
      ['stage', 'time', 'note'],
      [
        ['POST /crawls (validate, record, queue 2,000)', `${submitted - t0} ms`, 'API → DynamoDB Local → SQS'],
        ['first page fetched, from the POST', `${fetched[0]! - t0} ms`, 'messages are consumed while the POST still queues'],
        ['all pages recorded, crawl completed', `${((completed - fetched[0]!) / 1000).toFixed(1)} s`, `${crawl.succeeded} succeeded, ${crawl.failed} failed`],
        ['fetch + parse per page (mean durationMs)', `${meanWork.toFixed(0)} ms`, `incl. the site's ${LATENCY_MS} ms`],
        [`everything else per page, in each of ${Math.min(slots, PAGES)} slots`, `${Math.max(0, wallPerPage - meanWork).toFixed(0)} ms`, 'receive, DynamoDB writes (one hot crawl item), delete, CPU'],
        ['throughput', `${(PAGES / ((completed - t0) / 1000)).toFixed(0)} pages/s`, 'from the POST to completion'],
      ],
    );
  } finally {
    await stack.stop();
    stop();
  }
}
