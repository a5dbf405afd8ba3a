import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import { crawlStore, hostPacer, pageQueue, robotsStore } from '../adapters/from-settings.js';
import type { FetchLimits } from '../core/fetch/fetch-limits.js';
import { fetchRobotsTxt } from '../core/fetch/robots-fetch.js';
import { productTokenOf } from '../core/fetch/robots-rules.js';
import type { PoliteDeps } from '../core/polite/admission.js';
import { hostKeyOf } from '../core/polite/pacing-policy.js';
import { RobotsSource } from '../core/polite/robots-source.js';
import { pageMessageSchema, type PageMessage } from '../core/model/page-message.js';
import { isParseWorker, ParsePool } from '../core/parse/parse-pool.js';
import { endUnfinished, FOLLOW_ON_MAX_WAIT_MS, processPage } from '../core/crawl/process-page.js';
import { CompletionChecks } from '../core/crawl/completion-checks.js';
import { CrawlCache } from '../core/crawl/crawl-cache.js';
import { RecordBatcher } from '../core/crawl/record-batcher.js';
import { RetryLater, type RetryPolicy } from '../core/crawl/retry-policy.js';
import type { Summary } from '../core/model/summary.js';
import { redactUrl } from '../core/model/url.js';
import { processSitemap } from '../core/sitemap/process-sitemap.js';
import { politeRobotsSitemaps, politeSitemapFetch } from '../core/sitemap/polite-fetch.js';
import { isSitemapBody, sitemapMessageSchema } from '../core/sitemap/sitemap-message.js';
import { CONSUME_SETTINGS } from '../settings/consume.js';
import { loadSettings } from '../settings/setting.js';
import { logger, metrics } from './observability.js';

// Settings and adapters at module scope: read and built once per container.
const settings = loadSettings(CONSUME_SETTINGS);
const store = crawlStore(settings.table);
const queue = pageQueue(settings.queue);
/** URLs waiting for their host's turn go to their own queue, which this function's second event source reads. */
const turnQueue = pageQueue(settings.turnQueue);
const turnQueueName = settings.turnQueue.queueUrl.split('/').pop();
/** The queue a record was received from (an event source's ARN ends with its queue's name), where its retry hides it. */
const queueOf = (record: SQSRecord) => (record.eventSourceARN?.split(':').pop() === turnQueueName ? turnQueue : queue);
const limits: FetchLimits = { ...settings.fetch, userAgent: settings.politeness.userAgent };
const retry: RetryPolicy = settings.retry;
/** Pages in flight at once in one invocation: a batch can hold up to 10,000 records with a batching window. */
const limit = pLimit(settings.pageConcurrency);
/** The crawls' options and status, shared by the pages of every invocation in this container. */
const crawls = new CrawlCache(store);
/**
 * Politeness: robots.txt (fetched once per origin for every consumer, kept in the table up to 24 h, a minute here) and
 * each host's turns, in the table; both remembered per container.
 */
const polite: PoliteDeps = {
  settings: settings.politeness,
  pacer: hostPacer(settings.table),
  robots: new RobotsSource({
    store: robotsStore(settings.table),
    fetch: (origin, turn) => fetchRobotsTxt(origin, { ...limits, turn }),
    userAgentToken: productTokenOf(settings.politeness.userAgent),
    leaseMs: limits.timeoutMs + 5_000,
  }),
};
/** Pages of one crawl finishing together share one DynamoDB transaction (and one write of the crawl's counters)… */
const batcher = new RecordBatcher(store);
/** …and one read of whether that was the crawl's last URL. */
const completion = new CompletionChecks(store);
/** The crawls' sitemap work (`kind: 'sitemap'` messages on the same queue), and how sitemaps are fetched. */
const sitemaps = store.sitemapStore();
/** Asked right before a sitemap's (or its robots.txt's) request starts: none starts for a crawl seconds after its cancel. */
const cancelled = async (crawlId: string) => (await crawls.get(crawlId))?.status === 'cancelled';
const fetchSitemap = politeSitemapFetch(polite, limits, undefined, cancelled);
const releaseReservations = (url: string, cancelledAt: number) => polite.pacer.releaseReservations(hostKeyOf(url), cancelledAt);
const robotsSitemaps = politeRobotsSitemaps(polite, cancelled);
/**
 * Parse threads, started once per container and reused by every invocation. A parse worker loads this same bundle, so
 * a parse worker must not start more (the container itself may be a worker thread, as in the local stack).
 */
const parseThreads = settings.parseThreads;
const analyze = parseThreads > 0 && !isParseWorker ? new ParsePool(parseThreads).analyze : undefined;

async function handleRecord(record: SQSRecord, leaseUntil: number, mayFollowOn: () => boolean): Promise<void> {
  const body = safeJson(record.body);
  if (isSitemapBody(body)) return handleSitemapRecord(record, body, leaseUntil);
  const message = messageOf(record, pageMessageSchema.safeParse(body), 'page');
  const attempt = attemptOf(message, record);
  const context = { crawlId: message.crawlId, url: redactUrl(message.url), attempt };
  await limit(async () => {
    let outcome;
    try {
      outcome = await processPage(
        message,
        { store, crawls, queue, turnQueue, limits, retry, polite, recordPage: batcher.recordPage, completeIfDone: completion.completeIfDone, observe: recordPageMetrics, observeFollowOn, leaseUntil, mayFollowOn, ...(analyze ? { analyze } : {}) },
        attempt,
      );
    } catch (err) {
      await onFailure(err, record, context, 'page');
    }
    logger.debug('page processed', { ...context, outcome });
    metrics.addMetric(outcome === 'recorded' ? 'PagesRecorded' : outcome === 'deferred' ? 'PagesDeferred' : 'DuplicateDeliveries', MetricUnit.Count, 1);
  });
}

/** The record's message; one that is not ours or corrupted fails, and SQS moves it to the DLQ, where it can be inspected. */
function messageOf<T>(record: SQSRecord, parsed: { success: true; data: T } | { success: false }, kind: 'page' | 'sitemap'): T {
  if (parsed.success) return parsed.data;
  logger.error('malformed message', { messageId: record.messageId, kind });
  throw new Error(`message ${record.messageId} is not a ${kind} message`);
}

/** A crawl's sitemap work (core/sitemap/): read one sitemap, or find an origin's, with the pages' retries and DLQ. */
async function handleSitemapRecord(record: SQSRecord, body: unknown, leaseUntil: number): Promise<void> {
  const message = messageOf(record, sitemapMessageSchema.safeParse(body), 'sitemap');
  // Attempts of earlier messages of this work (one that waited for its host's turn) count too.
  const attempt = receiveCount(record) + (message.attempts ?? 0);
  const context = { crawlId: message.crawlId, sitemap: redactUrl(message.url), level: message.level, attempt };
  await limit(async () => {
    let outcome;
    try {
      outcome = await processSitemap(message, { store, sitemaps, crawl: (id) => crawls.get(id), queue, sitemapQueue: queue, turnQueue, releaseReservations, fetch: fetchSitemap, robotsSitemaps, retry, leaseUntil }, attempt);
    } catch (err) {
      await onFailure(err, record, context, 'sitemap');
    }
    logger.info('sitemap processed', { ...context, outcome });
  });
}

/** A delivery that did not finish: hidden for its retry's delay (RetryLater), or left for SQS to dead-letter. Always throws. */
async function onFailure(err: unknown, record: SQSRecord, context: Record<string, unknown>, what: 'page' | 'sitemap'): Promise<never> {
  if (err instanceof RetryLater) {
    // The delay is the message's visibility: if setting it fails, SQS still redelivers after the queue's default.
    await queueOf(record).postpone(record.receiptHandle, err.delaySeconds).catch((e: unknown) => logger.warn('could not set the retry delay', { ...context, error: e as Error }));
    // The reason names the underlying error (the fetch's code and message, or what was thrown), on every attempt.
    logger.warn(`${what} will be retried`, { ...context, reason: err.reason, delaySeconds: err.delaySeconds, ...(err.cause ? { error: err.cause as Error } : {}) });
    metrics.addMetric(what === 'page' ? 'PageRetries' : 'SitemapRetries', MetricUnit.Count, 1);
  } else {
    logger.error(`${what} could not be recorded; SQS will move it to the dead-letter queue`, { ...context, error: err as Error });
  }
  throw err;
}

/**
 * At the invocation's deadline: ends the URLs of the records on their last attempt, within `withinMs`. Per record,
 * whether its URL is ended (none when the writes did not finish in time: SQS then moves them to the DLQ and the
 * reconciler ends them).
 */
async function endOnLastAttempt(records: SQSRecord[], withinMs: number): Promise<boolean[]> {
  const parsed = records.map((record) => ({ record, message: pageMessageSchema.safeParse(safeJson(record.body)) }));
  const entries = parsed.flatMap(({ record, message }) => (message.success ? [{ record, message: message.data, attempt: attemptOf(message.data, record) }] : []));
  let timer: NodeJS.Timeout | undefined;
  try {
    const ended = await Promise.race([
      endUnfinished(entries, { store, queue, limits, retry, observe: recordPageMetrics }),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.max(0, withinMs)))),
    ]);
    const endedIds = new Set(ended ? entries.filter((_, i) => ended[i]).map((e) => e.record.messageId) : []);
    return records.map((r) => endedIds.has(r.messageId));
  } catch (err) {
    logger.error('could not end the unfinished pages on their last attempt; SQS will move them to the dead-letter queue', { error: err as Error });
    return records.map(() => false);
  } finally {
    clearTimeout(timer);
  }
}

const receiveCount = (record: SQSRecord) => Math.max(1, Number(record.attributes.ApproximateReceiveCount) || 1);

/**
 * The delivery's attempt at its URL: the attempts earlier messages of the URL used (a URL that waited for its host's
 * turn came back as a new message, its receive count started over) and this message's receive count.
 */
const attemptOf = (message: PageMessage, record: SQSRecord) => (message.attempts ?? 0) + receiveCount(record);

/** Links a delivery took on itself by following on (process-page.ts: followOnHost): pages fetched with no message of their own. */
const observeFollowOn = () => metrics.addMetric('PagesFollowedOn', MetricUnit.Count, 1);

/**
 * Per page: fetched or failed (failures also by error code, as their own metric with an ErrorCode dimension, which the
 * dashboard searches), fetch + parse latency, and bytes. Powertools publishes them as EMF log lines at the end of the
 * invocation: no API calls.
 */
function recordPageMetrics(summary: Summary): void {
  metrics.addMetric(summary.ok ? 'PagesFetched' : 'PagesFailed', MetricUnit.Count, 1);
  if (!summary.ok) {
    const byCode = metrics.singleMetric();
    byCode.addDimension('ErrorCode', summary.error?.code ?? 'UNKNOWN');
    byCode.addMetric('PagesFailedByCode', MetricUnit.Count, 1);
  }
  metrics.addMetric('FetchLatency', MetricUnit.Milliseconds, summary.durationMs);
  if (summary.bytes > 0) metrics.addMetric('PageBytes', MetricUnit.Bytes, summary.bytes);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Time kept back at the end of an invocation to answer before Lambda's timeout. A timed-out invocation fails its whole
 * batch, pages already recorded included, and every record loses an attempt; answering in time fails only the pages
 * still in flight, which SQS delivers again.
 */
const DEADLINE_MARGIN_MS = 1_500;
/** Of that margin, what answering needs once the last attempts' writes are done or given up. */
const DEADLINE_RESERVE_MS = 300;
/**
 * Time a page followed on may take besides its fetch's deadline: its wait for its turn in the function (a second more
 * when the slot it holds is given a little later), its record, and the deadline margin.
 */
const FOLLOW_ON_RESERVE_MS = FOLLOW_ON_MAX_WAIT_MS + 1_000 + 2_000 + DEADLINE_MARGIN_MS;

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  // Per invocation: a BatchProcessor keeps the batch's state on itself, and pages of an invocation that answered at
  // its deadline may still finish during the next one.
  const processor = new BatchProcessor(EventType.SQS);
  const finished = new Set<string>();
  // Children registered by this invocation are leased to it until its deadline.
  const leaseUntil = Date.now() + context.getRemainingTimeInMillis();
  // A page may go on to fetch its links on its own host itself (process-page.ts: followOnHost) while at least half the
  // batch (or of the slots, if fewer) is in flight (a batch held by one host's pages, its other slots idle, is better
  // let go and those links queued), no record waits for a slot, and one more page fits in the time left.
  let inFlight = event.Records.length;
  const mayFollowOn = () =>
    inFlight * 2 >= Math.min(event.Records.length, settings.pageConcurrency) &&
    limit.pendingCount === 0 &&
    context.getRemainingTimeInMillis() > limits.timeoutMs + FOLLOW_ON_RESERVE_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          await handleRecord(record, leaseUntil, mayFollowOn);
        } finally {
          inFlight--;
        }
        finished.add(record.messageId);
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), Math.max(0, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS));
    });
    const response = await Promise.race([work, deadline]);
    if (response === 'deadline') {
      work.catch(() => undefined);
      const unfinished = event.Records.filter((r) => !finished.has(r.messageId));
      const ended = await endOnLastAttempt(unfinished, context.getRemainingTimeInMillis() - DEADLINE_RESERVE_MS);
      logger.warn('invocation deadline reached: pages still in flight are left for SQS to deliver again, or ended on their last attempt', {
        records: event.Records.length,
        unfinished: unfinished.length,
        ended: ended.filter(Boolean).length,
      });
      return { batchItemFailures: unfinished.filter((_, i) => !ended[i]).map((r) => ({ itemIdentifier: r.messageId })) };
    }
    if (response.batchItemFailures.length > 0) {
      logger.info('batch had failures', { records: event.Records.length, failures: response.batchItemFailures.length });
    }
    return response;
  } finally {
    clearTimeout(timer);
    metrics.publishStoredMetrics();
  }
};
