import { getNumberFromEnv, getStringFromEnv } from '@aws-lambda-powertools/commons/utils/env';

/**
 * The environment variables the functions read, named once. CDK constructs set them (together with the grant each
 * needs) and the local stack sets them for its in-process handlers, both from these names.
 */
export const ENV = {
  tableName: 'CRAWL_TABLE_NAME',
  queueUrl: 'PAGE_QUEUE_URL',
  retentionDays: 'RETENTION_DAYS',
  pageConcurrency: 'PAGE_CONCURRENCY',
  parseThreads: 'PARSE_THREADS',
  fetchTimeoutMs: 'FETCH_TIMEOUT_MS',
  connectTimeoutMs: 'FETCH_CONNECT_TIMEOUT_MS',
  headersTimeoutMs: 'FETCH_HEADERS_TIMEOUT_MS',
  maxAttempts: 'MAX_ATTEMPTS',
  retryBaseDelaySeconds: 'RETRY_BASE_DELAY_SECONDS',
  retryMaxDelaySeconds: 'RETRY_MAX_DELAY_SECONDS',
  maxBodyBytes: 'FETCH_MAX_BODY_BYTES',
  maxRedirects: 'FETCH_MAX_REDIRECTS',
  allowPrivateNetwork: 'ALLOW_PRIVATE_NETWORK',
  reconcileAfterSeconds: 'RECONCILE_AFTER_SECONDS',
  reconcileMaxRequeues: 'RECONCILE_MAX_REQUEUES',
} as const;

/** A required variable: throws at cold start, naming the variable, when it is missing. */
export const requireString = (key: string): string =>
  getStringFromEnv({ key, errorMessage: `Environment variable ${key} is required but not set` });

/** An optional number with a default; throws when set to something that is not a number. */
export const numberOr = (key: string, defaultValue: number): number =>
  getNumberFromEnv({ key, defaultValue, errorMessage: `Environment variable ${key} must be a number` });

/** Only the exact string "true" lifts a safety default: a typo keeps the safe behaviour. */
export const isTrue = (key: string): boolean => process.env[key] === 'true';
