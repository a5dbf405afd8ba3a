import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { crawlRequestSchema } from '../functions/core/model/crawl-request.js';
import { CONSUME_SETTINGS, FETCH_SETTINGS, RETRY_SETTINGS } from '../functions/settings/consume.js';
import { DELIVER_SETTINGS } from '../functions/settings/deliver.js';
import { RECONCILE_SETTINGS } from '../functions/settings/reconcile.js';
import { TABLE_SETTINGS } from '../functions/settings/resources.js';
import { CRAWL_LIMIT_SETTINGS, POLITENESS_SETTINGS } from '../functions/settings/politeness.js';
import { isUsableText, type IntegerSetting, type TextSetting } from '../functions/settings/setting.js';
import { DELIVER_TIMEOUT_SECONDS } from './resources.js';

/**
 * Typed deployment configuration, read from the `crawler` key of cdk.json's context. The CDK stack and the local
 * stack both read it through here, so a setting means the same thing in both places.
 */

/** The field of a setting that a function reads: the range and default of its declaration (functions/settings/), which documents it. */
const configField = (setting: IntegerSetting) => z.int().min(setting.min).max(setting.max).default(setting.default);
const textField = (setting: TextSetting) =>
  z
    .string()
    .refine((value) => isUsableText(setting, value), `printable ASCII of 1 to ${setting.maxLength} characters`)
    .default(setting.default);

const scheduleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9-]{1,40}$/, 'schedule names are 1-40 letters, digits or dashes'),
  /** An EventBridge schedule expression: `rate(5 minutes)` or `cron(0 3 * * ? *)`. */
  expression: z.string().regex(/^(rate|cron)\(.+\)$/, 'expected rate(...) or cron(...)'),
  enabled: z.boolean().default(true),
  crawl: crawlRequestSchema,
});

export const crawlerConfigSchema = z.strictObject({
  retentionDays: configField(TABLE_SETTINGS.retentionDays),
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
      pageConcurrency: configField(CONSUME_SETTINGS.pageConcurrency),
      parseThreads: configField(CONSUME_SETTINGS.parseThreads),
    })
    .prefault({}),
  queue: z
    .strictObject({
      /** Deliveries of one message before SQS moves it to the DLQ; the consumer records the URL as failed on the last. */
      maxReceiveCount: configField(RETRY_SETTINGS.maxAttempts),
    })
    .prefault({}),
  retry: z
    .strictObject({
      baseDelaySeconds: configField(RETRY_SETTINGS.baseDelaySeconds),
      maxDelaySeconds: configField(RETRY_SETTINGS.maxDelaySeconds),
    })
    .prefault({}),
  fetch: z
    .strictObject({
      timeoutMs: configField(FETCH_SETTINGS.timeoutMs),
      connectTimeoutMs: configField(FETCH_SETTINGS.connectTimeoutMs),
      headersTimeoutMs: configField(FETCH_SETTINGS.headersTimeoutMs),
      maxBodyBytes: configField(FETCH_SETTINGS.maxBodyBytes),
      maxRedirects: configField(FETCH_SETTINGS.maxRedirects),
    })
    .prefault({}),
  /** Every request's User-Agent; it must start with its product token, the name robots.txt groups are matched against. */
  userAgent: textField(POLITENESS_SETTINGS.userAgent).refine((ua) => /^[A-Za-z_-]+/.test(ua), 'must start with a product token ([A-Za-z_-]+), e.g. "mybot/1.0"'),
  politeness: z
    .strictObject({
      hostDelayMs: configField(POLITENESS_SETTINGS.hostDelayMs),
      maxCrawlDelaySeconds: configField(POLITENESS_SETTINGS.maxCrawlDelaySeconds),
      maxThrottleMs: configField(POLITENESS_SETTINGS.maxThrottleMs),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxPagesPerCrawl: configField(CRAWL_LIMIT_SETTINGS.maxPagesPerCrawl),
    })
    .prefault({}),
  reconcile: z
    .strictObject({
      afterSeconds: configField(RECONCILE_SETTINGS.afterSeconds),
      maxRequeues: configField(RECONCILE_SETTINGS.maxRequeues),
    })
    .prefault({}),
  webhooks: z
    .strictObject({
      /** The retry schedule's base: at the default, a failing receiver is retried for over an hour; small for tests. */
      retryBaseSeconds: configField(DELIVER_SETTINGS.retryBaseSeconds),
      timeoutMs: configField(DELIVER_SETTINGS.timeoutMs),
      connectTimeoutMs: configField(DELIVER_SETTINGS.connectTimeoutMs),
      /** Deliveries POSTed at once by one invocation. */
      concurrency: configField(DELIVER_SETTINGS.concurrency),
      /** Deliveries per invocation (SQS records), 1 to 10. */
      batchSize: z.int().min(1).max(10).default(10),
      /** Lambda's SQS event source maximumConcurrency for the deliver function: 2 to 1000. */
      maxConcurrency: z.int().min(2).max(1000).default(5),
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
  // Likewise a batch of deliveries, each up to its deadline, within the deliver function's timeout.
  const { webhooks } = config;
  const deliveryWorstCaseMs = Math.ceil(webhooks.batchSize / webhooks.concurrency) * webhooks.timeoutMs + 2_000;
  if (DELIVER_TIMEOUT_SECONDS * 1000 < deliveryWorstCaseMs) {
    throw new Error(
      `Invalid "crawler" configuration: a batch of ${webhooks.batchSize} webhook deliveries, ${webhooks.concurrency} at once with a ${webhooks.timeoutMs} ms ` +
        `deadline, can take ${Math.ceil(deliveryWorstCaseMs / 1000)} s, more than the deliver function's ${DELIVER_TIMEOUT_SECONDS} s; lower webhooks.batchSize or timeoutMs, or raise concurrency`,
    );
  }
  for (const schedule of config.schedules) {
    const webhook = schedule.crawl.webhook;
    if (webhook && !/^https?:$/.test(URL.parse(webhook.url)?.protocol ?? '')) {
      throw new Error(`Invalid "crawler" configuration: schedule "${schedule.name}" has a webhook.url that is not an absolute http(s) URL`);
    }
    if ((schedule.crawl.maxPages ?? 0) > config.limits.maxPagesPerCrawl) {
      throw new Error(`Invalid "crawler" configuration: schedule "${schedule.name}" asks for maxPages ${schedule.crawl.maxPages}, over limits.maxPagesPerCrawl (${config.limits.maxPagesPerCrawl})`);
    }
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
