import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { crawlRequestSchema } from '../functions/core/model/crawl-request.js';
import { DEFAULT_FETCH_LIMITS } from '../functions/core/fetch/fetch-limits.js';
import { DEFAULT_RETRY_POLICY } from '../functions/core/crawl/retry-policy.js';

/**
 * Typed deployment configuration, read from the `crawler` key of cdk.json's context. The CDK stack and the local
 * stack both read it through here, so a setting means the same thing in both places.
 */
const scheduleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9-]{1,40}$/, 'schedule names are 1-40 letters, digits or dashes'),
  /** An EventBridge schedule expression: `rate(5 minutes)` or `cron(0 3 * * ? *)`. */
  expression: z.string().regex(/^(rate|cron)\(.+\)$/, 'expected rate(...) or cron(...)'),
  enabled: z.boolean().default(true),
  crawl: crawlRequestSchema,
});

export const crawlerConfigSchema = z.strictObject({
  /** Days before crawls and summaries expire through DynamoDB TTL. */
  retentionDays: z.int().min(1).max(3650).default(30),
  api: z
    .strictObject({
      throttleRateLimit: z.number().positive().default(50),
      throttleBurstLimit: z.int().positive().default(100),
      /**
       * Create API Gateway's account-wide CloudWatch Logs role (retained when the stack is deleted, as other APIs in
       * the account rely on it). Set false where the account's role is managed elsewhere; it must exist either way.
       */
      createCloudWatchRole: z.boolean().default(true),
    })
    .prefault({}),
  consumer: z
    .strictObject({
      memorySize: z.int().min(128).max(10_240).default(1024),
      timeoutSeconds: z.int().min(1).max(900).default(60),
      /** SQS records per invocation; as many as pageConcurrency, so each invocation keeps that many pages in flight. */
      batchSize: z.int().min(1).max(10_000).default(16),
      maxBatchingWindowSeconds: z.int().min(0).max(300).default(1),
      /** Lambda's SQS event source maximumConcurrency: 2 to 1000. */
      maxConcurrency: z.int().min(2).max(1000).default(20),
      /** Pages fetched at once inside one invocation. */
      pageConcurrency: z.int().min(1).max(256).default(16),
      /**
       * Worker threads that parse while the main thread fetches; 0 parses on the main thread. Pays only where the
       * function has more than one vCPU (Lambda gives 2 from 3,538 MB): see the bench's throughput section.
       */
      parseThreads: z.int().min(0).max(6).default(0),
    })
    .prefault({}),
  queue: z
    .strictObject({
      /** Deliveries of one message before SQS moves it to the DLQ; the consumer records the URL as failed on the last. */
      maxReceiveCount: z.int().min(1).max(1000).default(DEFAULT_RETRY_POLICY.maxAttempts),
    })
    .prefault({}),
  retry: z
    .strictObject({
      /** Backoff before the second attempt; it doubles with each attempt (with jitter) up to maxDelaySeconds. */
      baseDelaySeconds: z.int().min(0).max(3600).default(DEFAULT_RETRY_POLICY.baseDelaySeconds),
      /** Cap on any one delay, a server's Retry-After included. */
      maxDelaySeconds: z.int().min(0).max(43_200).default(DEFAULT_RETRY_POLICY.maxDelaySeconds),
    })
    .prefault({}),
  fetch: z
    .strictObject({
      timeoutMs: z.int().min(100).max(120_000).default(DEFAULT_FETCH_LIMITS.timeoutMs),
      connectTimeoutMs: z.int().min(100).max(120_000).default(DEFAULT_FETCH_LIMITS.connectTimeoutMs),
      headersTimeoutMs: z.int().min(100).max(120_000).default(DEFAULT_FETCH_LIMITS.headersTimeoutMs),
      maxBodyBytes: z.int().min(1024).max(100 * 1024 * 1024).default(DEFAULT_FETCH_LIMITS.maxBodyBytes),
      maxRedirects: z.int().min(0).max(20).default(DEFAULT_FETCH_LIMITS.maxRedirects),
    })
    .prefault({}),
  reconcile: z
    .strictObject({
      /**
       * A running crawl that recorded nothing for this long is checked: each counted URL with no outcome is queued
       * again. Longer than the longest legitimate quiet spell (a retry's delay, a slow batch), or pages in a backoff
       * would be fetched twice.
       */
      afterSeconds: z.int().min(1).max(86_400).default(900),
      /** Times one URL is queued again before it ends as failed (UNPROCESSED) with its reason. */
      maxRequeues: z.int().min(0).max(100).default(3),
    })
    .prefault({}),
  observability: z
    .strictObject({
      /** X-Ray active tracing on the functions and the API stage. */
      tracing: z.boolean().default(false),
      /** An address to mail alarms to; the alarm topic exists either way, for any subscription you add. */
      alarmEmail: z.email().optional(),
      /** Alarm when the oldest queued page has waited this long: the consumer is not keeping up, or not running. */
      oldestMessageAgeAlarmSeconds: z.int().min(60).max(1_209_600).default(900),
    })
    .prefault({}),
  schedules: z.array(scheduleSchema).default([]),
});

export type CrawlerConfig = z.output<typeof crawlerConfigSchema>;
export type ScheduleConfig = CrawlerConfig['schedules'][number];

/** Validates raw context; throws one readable error listing every problem. */
export function parseCrawlerConfig(raw: unknown): CrawlerConfig {
  const result = crawlerConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new Error(`Invalid "crawler" configuration:\n${z.prettifyError(result.error)}`);
  }
  const config = result.data;
  const { consumer, fetch } = config;
  if (consumer.batchSize > 10 && consumer.maxBatchingWindowSeconds < 1) {
    throw new Error('Invalid "crawler" configuration: consumer.batchSize over 10 needs consumer.maxBatchingWindowSeconds of at least 1 (a Lambda rule)');
  }
  // A batch must fit in one invocation even if every page takes the whole fetch deadline; otherwise the function
  // times out, the whole batch is retried, and it can time out again forever.
  const rounds = Math.ceil(consumer.batchSize / consumer.pageConcurrency);
  const worstCaseMs = rounds * fetch.timeoutMs + 2_000;
  if (consumer.timeoutSeconds * 1000 < worstCaseMs) {
    throw new Error(
      `Invalid "crawler" configuration: a batch of ${consumer.batchSize} at ${consumer.pageConcurrency} pages at once with a ` +
        `${fetch.timeoutMs} ms fetch deadline can take ${Math.ceil(worstCaseMs / 1000)} s, more than consumer.timeoutSeconds ` +
        `(${consumer.timeoutSeconds}); raise the timeout or pageConcurrency, or lower batchSize`,
    );
  }
  // A URL waiting out its retry delay is alive; the reconciler must not take it for lost. (A crashed invocation's
  // messages come back after the visibility timeout, 6× consumer.timeoutSeconds: if that is longer, such a URL may be
  // queued twice, which costs a fetch, never a count.)
  if (config.reconcile.afterSeconds <= config.retry.maxDelaySeconds) {
    throw new Error(
      `Invalid "crawler" configuration: reconcile.afterSeconds (${config.reconcile.afterSeconds}) must be longer than retry.maxDelaySeconds ` +
        `(${config.retry.maxDelaySeconds}), or URLs waiting for a retry would be taken for lost`,
    );
  }
  const names = config.schedules.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`Invalid "crawler" configuration: schedule name "${dup}" is used twice`);
  return config;
}

/** The repository's cdk.json: the deployment's settings, read by default wherever settings are read outside CDK. */
export const CDK_JSON = fileURLToPath(new URL('../cdk.json', import.meta.url));

/** A settings file that cannot be used; the message names the file and says what is wrong with it. */
export class ConfigFileError extends Error {}

/**
 * The `crawler` settings of a file shaped like cdk.json (`{"context": {"crawler": {…}}}`), for code that runs outside
 * a CDK app: the local stack (`npm start -- --config FILE`), `crawler fetch --config FILE` and the bench. `shown` is
 * how messages name the file (as the user typed it). A missing or unreadable file, one that is not JSON, has no
 * `crawler` settings or fails validation is a ConfigFileError.
 */
export function readCrawlerConfig(path: string = CDK_JSON, shown: string = path): CrawlerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read the config file ${shown}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let json: { context?: { crawler?: unknown } } | null;
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new ConfigFileError(`the config file ${shown} is not JSON: ${(err as Error).message}`);
  }
  if (json?.context?.crawler === undefined) {
    throw new ConfigFileError(`the config file ${shown} has no "crawler" settings: it is shaped like cdk.json, {"context": {"crawler": {…}}}`);
  }
  try {
    return parseCrawlerConfig(json.context.crawler);
  } catch (err) {
    throw new ConfigFileError(`${shown}: ${(err as Error).message}`);
  }
}
