import { readCrawlerConfig, type CrawlerConfig } from '../lib/config.js';
import { printTable } from './table.js';
import { runWorker, startCorpusSite } from './throughput.js';

/**
 * Public prices, us-east-1, on-demand, as published on the pages cited (read 2026-11; check them before you rely on
 * the totals). Each is a named constant so a price change is a one-line edit.
 */
/** https://aws.amazon.com/lambda/pricing/ — Arm, first 7.5 billion GB-seconds a month. */
const LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334;
/** https://aws.amazon.com/lambda/pricing/ — requests. */
const LAMBDA_USD_PER_MILLION_REQUESTS = 0.2;
/** https://aws.amazon.com/sqs/pricing/ — standard queue, per million requests (each up to 64 KB) after the free tier. */
const SQS_USD_PER_MILLION_REQUESTS = 0.4;
/** https://aws.amazon.com/dynamodb/pricing/on-demand/ — per million write request units (1 KB; transactional: 2). */
const DYNAMODB_USD_PER_MILLION_WRU = 0.625;
/** https://aws.amazon.com/dynamodb/pricing/on-demand/ — per million read request units (4 KB strongly consistent). */
const DYNAMODB_USD_PER_MILLION_RRU = 0.125;
/** https://aws.amazon.com/eventbridge/pricing/ — custom events put on a bus, per million (64 KB chunks). */
const EVENTBRIDGE_USD_PER_MILLION_EVENTS = 1.0;
/** https://aws.amazon.com/api-gateway/pricing/ — REST APIs, first 333 million requests a month. */
const API_GATEWAY_USD_PER_MILLION_REQUESTS = 3.5;
/** https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html — a full vCPU at 1,769 MB, shared below. */
const MB_PER_VCPU = 1769;

/**
 * What one page costs in requests, from the code (functions/core/crawl/process-page.ts, functions/adapters/*):
 * SQS — sent in batches of 10 (fan-out), received and deleted in batches of `batchSize` by the event source;
 * DynamoDB — the URL's counted record written before its message is sent (1 WRU; what the reconciler compares pages
 * against), hasPage and completeIfDone's check (1 strongly consistent read each), the page's record (a transaction:
 * the ~1 KB page item at 2 WRU, and the crawl item at 2 WRU shared by the pages of a batch, RecordBatcher), putLatest
 * (1 WRU, and 1 more for the comparison base it keeps: CHANGE_DETECTION), and the host's turn (functions/core/polite/, adapters/dynamodb/host-pace.ts: one conditional write of the
 * host's small item, 1 WRU, for every request at the shipped 1 s pace; none for a crawl with hostDelayMs 0);
 * API Gateway — one POST per 1,000 URLs and one status poll per 100 pages (a client polling every few seconds).
 * robots.txt costs nothing per page at scale: one fetch per origin a day, one read of its item per container a minute.
 */
/** Write units per page when `sharing` pages share one crawl-item update. */
const wruPerPage = (sharing: number) => 1 + 2 + 2 / sharing + 1 + CHANGE_DETECTION.wru + PACING_WRU_PER_PAGE;
/**
 * Change detection (functions/core/crawl/change.ts): one read of the URL's latest summary (under 4 KB; strongly
 * consistent, 1 unit, as it shares hasPage's BatchGetItem: adapters/dynamodb/point-reads.ts), and the latest item, now
 * holding the base it was compared with too, over 1 KB (a second unit).
 */
const CHANGE_DETECTION = { rru: 1, wru: 1 };
/**
 * Events (the table's stream → the publish function → EventBridge): one PutEvents entry per changed page and per
 * completed crawl; stream records of other items are filtered out before they invoke anything. A webhook delivery:
 * one SendMessage, a receive and a delete in batches, and its share of a deliver invocation (a POST of ~200 ms, a
 * planning figure, at the function's 256 MB); each retry repeats the delivery's SQS and Lambda part.
 */
const EVENT = { publishMsPerEvent: 20, publishMemoryMb: 256 };
const DELIVERY = { sqsRequests: 1 + 2 / 10, lambdaMs: 200, memoryMb: 256, invocationsPerDelivery: 1 / 10 };
/** The host's turn: one claim per request. */
const PACING_WRU_PER_PAGE = 1;
/**
 * A page queued on a busy host (more pages than its pace) costs more: its turn is first a reservation (1 WRU), then it
 * goes back on the queue with a delay (1 SendMessage; received and deleted in a batch) and notes its SEEN item alive
 * (1 WRU), and when it comes back it waits for its slot in the function (about a second, a sixteenth of a batch's time).
 */
const QUEUED = { wru: 2, sqsRequests: (batch: number) => 1 + 2 / batch, waitMs: 1_000 };
const RRU_PER_PAGE = 2 + CHANGE_DETECTION.rru;
/** A page's SQS requests: its share of a SendMessageBatch of 10, and of its batch's receive and delete. */
const sqsRequestsPerPage = (batch: number) => 1 / 10 + 2 / batch;
const API_CALLS_PER_PAGE = 1 / 1000 + 1 / 100;
/** Per-page DynamoDB and SQS time inside the function (round trips in parallel with other pages), a planning figure. */
const STORE_MS_PER_PAGE = 20;
/** Lambda's per-invocation overhead (runtime + batch handling), a planning figure. */
const INVOKE_MS = 10;

interface Profile {
  memoryMb: number;
  latencyMs: number;
}

/** Dollars per million pages, with the function's duration modelled from the measured CPU per page. */
function costPerMillion(config: CrawlerConfig, cpuMsPerPage: number, { memoryMb, latencyMs }: Profile) {
  const batch = config.consumer.batchSize;
  const inFlight = Math.min(batch, config.consumer.pageConcurrency);
  const vcpu = Math.min(memoryMb / MB_PER_VCPU, 1); // one thread parses unless parseThreads is set
  // A batch takes the longer of waiting on the network (rounds of pages in flight) and computing (its CPU at this share).
  const waitMs = Math.ceil(batch / inFlight) * (latencyMs + STORE_MS_PER_PAGE);
  const computeMs = (batch * cpuMsPerPage) / vcpu;
  const batchMs = Math.max(waitMs, computeMs) + INVOKE_MS;
  const invocations = 1e6 / batch;
  const lambda = invocations * (batchMs / 1000) * (memoryMb / 1024) * LAMBDA_ARM_USD_PER_GB_SECOND + (invocations / 1e6) * LAMBDA_USD_PER_MILLION_REQUESTS;
  const sqs = sqsRequestsPerPage(batch) * SQS_USD_PER_MILLION_REQUESTS;
  // Pages finishing within the batcher's window share a transaction; at most a whole batch does.
  const dynamodb = wruPerPage(inFlight) * DYNAMODB_USD_PER_MILLION_WRU + RRU_PER_PAGE * DYNAMODB_USD_PER_MILLION_RRU;
  const api = API_CALLS_PER_PAGE * API_GATEWAY_USD_PER_MILLION_REQUESTS;
  const pagesPerSecondPerFunction = (batch / batchMs) * 1000;
  return { lambda, sqs, dynamodb, api, total: lambda + sqs + dynamodb + api, batchMs, bound: computeMs > waitMs ? 'CPU' : 'network', pagesPerSecondPerFunction };
}

/**
 * The price per million pages, from the CPU per page measured here (the engine on the real-page corpus, 50 ms site,
 * concurrency 16 as in one invocation) and the shipped configuration's batch size and concurrency.
 */
export async function benchCost(): Promise<void> {
  const config = readCrawlerConfig();
  const { site, stop } = await startCorpusSite(50);
  let cpuMsPerPage: number;
  try {
    const run = runWorker('ours', config.consumer.pageConcurrency, site, 1_000);
    cpuMsPerPage = run.cpuMs / run.pages;
  } finally {
    stop();
  }
  const usd = (x: number) => `$${x.toFixed(2)}`;
  console.log(
    `\nCost per million pages (us-east-1 list prices in bench/cost.ts), from ${cpuMsPerPage.toFixed(2)} CPU ms per page measured just now;` +
      ` batch ${config.consumer.batchSize}, ${config.consumer.pageConcurrency} pages at once`,
  );
  const rows: string[][] = [];
  for (const latencyMs of [50, 200, 800]) {
    for (const memoryMb of [512, 1024, 1769]) {
      const c = costPerMillion(config, cpuMsPerPage, { memoryMb, latencyMs });
      rows.push([
        `${latencyMs} ms`, `${memoryMb} MB${memoryMb === config.consumer.memorySize ? ' (shipped)' : ''}`, usd(c.lambda), usd(c.sqs), usd(c.dynamodb), usd(c.api), usd(c.total),
        `${c.batchMs.toFixed(0)} ms, ${c.bound}`, c.pagesPerSecondPerFunction.toFixed(0),
      ]);
    }
  }
  printTable(['site latency', 'memory', 'Lambda', 'SQS', 'DynamoDB', 'API GW', 'total', 'one batch', 'pages/s per function'], rows);
  const unshared = (wruPerPage(1) - wruPerPage(Math.min(config.consumer.batchSize, config.consumer.pageConcurrency))) * DYNAMODB_USD_PER_MILLION_WRU;
  console.log(
    `  DynamoDB assumes a batch's pages share one crawl-item write (RecordBatcher's best case); pages that finish` +
      ` apart add up to ${usd(unshared)} per million.`,
  );
  const inFlight = Math.min(config.consumer.batchSize, config.consumer.pageConcurrency);
  const claim = PACING_WRU_PER_PAGE * DYNAMODB_USD_PER_MILLION_WRU;
  const queued =
    QUEUED.wru * DYNAMODB_USD_PER_MILLION_WRU +
    QUEUED.sqsRequests(config.consumer.batchSize) * SQS_USD_PER_MILLION_REQUESTS +
    1e6 * (QUEUED.waitMs / 1000 / inFlight) * (config.consumer.memorySize / 1024) * LAMBDA_ARM_USD_PER_GB_SECOND;
  // A page followed on (README: Politeness) has no message of its own; its delivery's slot waits about an interval for it.
  const followedSqs = sqsRequestsPerPage(config.consumer.batchSize) * SQS_USD_PER_MILLION_REQUESTS;
  const followedWait = 1e6 * (config.politeness.hostDelayMs / 1000 / inFlight) * (config.consumer.memorySize / 1024) * LAMBDA_ARM_USD_PER_GB_SECOND;
  console.log(
    `  Politeness: the host's turn (one claim per request) is ${usd(claim)} of each total; a page queued on a busy host` +
      ` (reserved, sent back with a delay, waited for) adds ${usd(queued)} per million; hostDelayMs 0 saves the ${usd(claim)}.` +
      ` A link followed on by the delivery that found it saves its SQS requests (${usd(followedSqs)}) and adds its slot's wait for` +
      ` the host's turn (${usd(followedWait)} at ${config.politeness.hostDelayMs} ms, ${config.consumer.memorySize} MB).`,
  );
  const change = CHANGE_DETECTION.rru * DYNAMODB_USD_PER_MILLION_RRU + CHANGE_DETECTION.wru * DYNAMODB_USD_PER_MILLION_WRU;
  const perEvent =
    EVENTBRIDGE_USD_PER_MILLION_EVENTS + 1e6 * (EVENT.publishMsPerEvent / 1000) * (EVENT.publishMemoryMb / 1024) * LAMBDA_ARM_USD_PER_GB_SECOND;
  const perDelivery =
    DELIVERY.sqsRequests * SQS_USD_PER_MILLION_REQUESTS +
    DELIVERY.invocationsPerDelivery * LAMBDA_USD_PER_MILLION_REQUESTS +
    1e6 * (DELIVERY.lambdaMs / 1000) * (DELIVERY.memoryMb / 1024) * LAMBDA_ARM_USD_PER_GB_SECOND;
  console.log(
    `  Monitoring: change detection (the latest summary read, and its comparison base kept) is ${usd(change)} of each total.` +
      ` Events: ${usd(perEvent)} per million events (a Page Changed per changed page, a Crawl Completed per crawl):` +
      ` ${usd(perEvent / 10)} per million pages when one page in ten changes. Webhooks: ${usd(perDelivery)} per million` +
      ` deliveries, each retry as much again.`,
  );
}
