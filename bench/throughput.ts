import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Parser } from 'htmlparser2';
import { loadCorpus } from '../harness/corpus.js';
import { printTable } from './table.js';

const LATENCY_MS = 50;
const PAGES = 2_000;
const ENGINE_NAMES: Record<string, string> = {
  crawlee: 'Crawlee 3.18 CheerioCrawler (baseline)',
  ours: 'this engine, parsing on the main thread',
  'ours-threads': `this engine, ${availableParallelism()} parse threads`,
};
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export interface Run {
  pages: number;
  ok: number;
  seconds: number;
  cpuMs: number;
  peakRss: number;
}

export function runWorker(engine: string, concurrency: number, site: string, pages = PAGES): Run {
  const out = spawnSync(process.execPath, ['--import', 'tsx', here('./throughput-worker.ts'), engine, String(concurrency), site, String(pages)], {
    encoding: 'utf8',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    maxBuffer: 1 << 20,
  });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  if (out.status !== 0 || !line.startsWith('{')) throw new Error(`${engine} worker failed: ${out.stderr.slice(-2000)}`);
  return JSON.parse(line) as Run;
}

/** Corpus pages per second that htmlparser2's tokenizer alone manages on one core: the parsing floor. */
function tokenizerFloor(): number {
  const texts = loadCorpus().map((p) => p.bytes.toString('latin1'));
  let pages = 0;
  const started = performance.now();
  while (performance.now() - started < 2_000) {
    for (const text of texts) new Parser({}).end(text);
    pages += texts.length;
  }
  return pages / ((performance.now() - started) / 1000);
}

/**
 * 2,000 URLs of the real-page corpus on a loopback site answering after 50 ms, crawled at concurrency 16, 64 and 256,
 * each run in a fresh process; Crawlee's CheerioCrawler on the same URLs in the same run.
 */
export async function benchThroughput(): Promise<void> {
  const { site, stop } = await startCorpusSite(LATENCY_MS);
  try {
    const floor = tokenizerFloor();
    const rows: string[][] = [];
    const results = new Map<string, Run>();
    for (const concurrency of [16, 64, 256]) {
      for (const engine of concurrency === 64 ? ['crawlee', 'ours', 'ours-threads'] : ['ours', 'ours-threads']) {
        const run = runWorker(engine, concurrency, site);
        results.set(`${engine}@${concurrency}`, run);
        rows.push([
          ENGINE_NAMES[engine]!,
          String(concurrency),
          (run.pages / run.seconds).toFixed(0),
          (run.cpuMs / run.pages).toFixed(2),
          (run.peakRss / 1e6).toFixed(0),
          `${run.ok}/${run.pages}`,
          (concurrency / (LATENCY_MS / 1000)).toFixed(0),
          floor.toFixed(0),
        ]);
      }
    }
    console.log(`\nThroughput: ${PAGES} URLs of the real-page corpus on a loopback site answering after ${LATENCY_MS} ms, each run in a fresh process`);
    printTable(['engine', 'concurrency', 'pages/s', 'CPU ms/page', 'peak RSS MB', 'ok', 'network limit pages/s', 'tokenizer floor pages/s (1 core)'], rows);
    // Where the network is the limit: 1 KB pages, so parsing costs little.
    const small = await startCorpusSite(LATENCY_MS, 'small');
    try {
      const smallRows: string[][] = [];
      for (const concurrency of [16, 64]) {
        const run = runWorker('ours', concurrency, small.site);
        const limit = concurrency / (LATENCY_MS / 1000);
        const rate = run.pages / run.seconds;
        smallRows.push([ENGINE_NAMES['ours']!, String(concurrency), rate.toFixed(0), (run.cpuMs / run.pages).toFixed(2), limit.toFixed(0), `${((100 * rate) / limit).toFixed(0)}%`]);
      }
      console.log(`\nThroughput where the network is the limit: ${PAGES} URLs of a 1 KB page, ${LATENCY_MS} ms site (goal: ≥ 90% of the network limit)`);
      printTable(['engine', 'concurrency', 'pages/s', 'CPU ms/page', 'network limit pages/s', 'of the limit'], smallRows);
    } finally {
      small.stop();
    }
    const crawlee = results.get('crawlee@64')!;
    for (const engine of ['ours', 'ours-threads']) {
      const ours = results.get(`${engine}@64`)!;
      const speed = ours.pages / ours.seconds / (crawlee.pages / crawlee.seconds);
      console.log(
        `  ${ENGINE_NAMES[engine]}, concurrency 64: ${speed.toFixed(2)}× Crawlee's pages/s at ${(ours.peakRss / crawlee.peakRss).toFixed(2)}×` +
          ` its peak RSS (goal: ≥ 4× at ≤ 0.5×)`,
      );
    }
  } finally {
    stop();
  }
}

/** The corpus site (bench/corpus-site.ts) in its own process, answering after `latencyMs`. */
export async function startCorpusSite(latencyMs: number, kind: 'corpus' | 'small' = 'corpus'): Promise<{ site: string; stop: () => void }> {
  const server = spawn(process.execPath, ['--import', 'tsx', here('./corpus-site.ts'), String(latencyMs), kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  const site = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
  return { site, stop: () => server.kill('SIGTERM') };
}
