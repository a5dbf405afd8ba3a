/**
 * One throughput run in a fresh process, so peak RSS and CPU are this engine's alone:
 *   throughput-worker.ts <ours|ours-threads|crawlee> <concurrency> <siteUrl> <count>
 * Prints one JSON line: pages, ok, wall seconds, CPU ms, peak RSS bytes.
 */
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { PUBLIC_INTERNET } from '../functions/core/fetch/address-guard.js';
import { ParsePool } from '../functions/core/parse/parse-pool.js';
import { summarizeUrl } from '../functions/core/summarize/summarize-url.js';
import { DEFAULT_FETCH_LIMITS } from '../functions/core/fetch/fetch-limits.js';

const [engine, concurrencyArg, site, countArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const urls = Array.from({ length: Number(countArg) }, (_, i) => `${site}/p/${i}`);
let ok = 0;

/** The engine as the consumer runs it; with `threads`, parsing on a pool of that many worker threads. */
async function ours(threads: number): Promise<void> {
  const limit = pLimit(concurrency);
  const limits = { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true };
  const pool = threads > 0 ? new ParsePool(threads) : null;
  await Promise.all(
    urls.map((url) => limit(async () => void ((await summarizeUrl(url, limits, PUBLIC_INTERNET, pool?.analyze)).summary.ok && ok++))),
  );
  await pool?.close();
}

/**
 * Crawlee 3's CheerioCrawler, tuned for throughput as its docs suggest: fixed concurrency, no session pool, no
 * retries, in-memory storage, logging off; the handler reads the same Summary fields with cheerio selectors.
 */
async function crawlee(): Promise<void> {
  const { CheerioCrawler, Configuration, log, LogLevel } = await import('@crawlee/cheerio');
  log.setLevel(LogLevel.OFF);
  const config = new Configuration({ persistStorage: false, purgeOnStart: true, availableMemoryRatio: 0.9 });
  const crawler = new CheerioCrawler(
    {
      minConcurrency: concurrency,
      maxConcurrency: concurrency,
      autoscaledPoolOptions: { desiredConcurrency: concurrency },
      maxRequestRetries: 0,
      useSessionPool: false,
      persistCookiesPerSession: false,
      requestHandler: async ({ $ }) => {
        const fields = {
          title: $('title').first().text().replace(/\s+/g, ' ').trim(),
          lang: $('html').attr('lang') ?? null,
          description: $('meta[name="description" i]').first().attr('content') ?? null,
          canonical: $('link[rel~="canonical" i]').first().attr('href') ?? null,
          h1: $('h1').length,
          links: $('a[href]').length,
          images: $('img').length,
        };
        if (fields.title !== undefined) ok++;
      },
    },
    config,
  );
  await crawler.run(urls);
}

const started = performance.now();
const cpu = process.cpuUsage();
await (engine === 'crawlee' ? crawlee() : ours(engine === 'ours-threads' ? availableParallelism() : 0));
const used = process.cpuUsage(cpu);
console.log(
  JSON.stringify({
    pages: urls.length,
    ok,
    seconds: (performance.now() - started) / 1000,
    cpuMs: (used.user + used.system) / 1000,
    peakRss: process.resourceUsage().maxRSS * 1024,
  }),
);
process.exit(0);
