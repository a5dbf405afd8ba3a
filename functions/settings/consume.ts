import { DEFAULT_RETRY_POLICY } from '../core/crawl/retry-policy.js';
import { DEFAULT_FETCH_LIMITS } from '../core/fetch/fetch-limits.js';
import { POLITENESS_SETTINGS } from './politeness.js';
import { QUEUE_SETTINGS, TABLE_SETTINGS, TURN_QUEUE_SETTINGS } from './resources.js';
import { integer, safetySwitch, type Settings } from './setting.js';

const FETCH_TIMEOUT_RANGE = { min: 100, max: 120_000 };

/** The fetch limits (core/fetch/fetch-limits.ts), with the core's defaults. */
export const FETCH_SETTINGS = {
  timeoutMs: integer({
    env: 'FETCH_TIMEOUT_MS',
    doc: 'Deadline for the whole fetch: connect, headers, every redirect and the body (so a slow drip stops too).',
    ...FETCH_TIMEOUT_RANGE,
    default: DEFAULT_FETCH_LIMITS.timeoutMs,
  }),
  connectTimeoutMs: integer({
    env: 'FETCH_CONNECT_TIMEOUT_MS',
    doc: 'Deadline for one TCP (and TLS) connection to be set up.',
    ...FETCH_TIMEOUT_RANGE,
    default: DEFAULT_FETCH_LIMITS.connectTimeoutMs,
  }),
  headersTimeoutMs: integer({
    env: 'FETCH_HEADERS_TIMEOUT_MS',
    doc: "Deadline for a response's headers once the request is sent.",
    ...FETCH_TIMEOUT_RANGE,
    default: DEFAULT_FETCH_LIMITS.headersTimeoutMs,
  }),
  maxBodyBytes: integer({
    env: 'FETCH_MAX_BODY_BYTES',
    doc: 'Cap on the body after content decoding, so a compression bomb stops at the cap too.',
    min: 1024,
    max: 100 * 1024 * 1024,
    default: DEFAULT_FETCH_LIMITS.maxBodyBytes,
  }),
  maxRedirects: integer({
    env: 'FETCH_MAX_REDIRECTS',
    doc: 'Redirects followed before a page fails as TOO_MANY_REDIRECTS.',
    min: 0,
    max: 20,
    default: DEFAULT_FETCH_LIMITS.maxRedirects,
  }),
  allowPrivateNetwork: safetySwitch({
    env: 'ALLOW_PRIVATE_NETWORK',
    doc: 'Fetch loopback and private addresses too (the SSRF guard refuses them otherwise): for a test site on your own machine.',
  }),
} satisfies Settings;

/** The retry policy (core/crawl/retry-policy.ts), with the core's defaults. */
export const RETRY_SETTINGS = {
  maxAttempts: integer({
    env: 'MAX_ATTEMPTS',
    doc: "Attempts at a page; the last one records the page as failed. The deployment makes it the queue's maxReceiveCount.",
    min: 1,
    max: 1000,
    default: DEFAULT_RETRY_POLICY.maxAttempts,
  }),
  baseDelaySeconds: integer({
    env: 'RETRY_BASE_DELAY_SECONDS',
    doc: 'Backoff before the second attempt; it doubles with each attempt (with jitter) up to maxDelaySeconds.',
    min: 0,
    max: 3600,
    default: DEFAULT_RETRY_POLICY.baseDelaySeconds,
  }),
  maxDelaySeconds: integer({
    env: 'RETRY_MAX_DELAY_SECONDS',
    doc: "Cap on any one delay, a server's Retry-After included.",
    min: 0,
    max: 43_200,
    default: DEFAULT_RETRY_POLICY.maxDelaySeconds,
  }),
} satisfies Settings;

/** The consumer fetches, parses and records the pages of its batch, and queues the links it follows. */
export const CONSUME_SETTINGS = {
  table: TABLE_SETTINGS,
  queue: QUEUE_SETTINGS,
  turnQueue: TURN_QUEUE_SETTINGS,
  pageConcurrency: integer({
    env: 'PAGE_CONCURRENCY',
    doc: 'Pages fetched at once inside one invocation (a batch can hold up to 10,000 records with a batching window).',
    min: 1,
    max: 256,
    default: 16,
  }),
  parseThreads: integer({
    env: 'PARSE_THREADS',
    doc:
      'Worker threads that parse while the main thread fetches; 0 parses on the main thread. Pays only where the function ' +
      "has more than one vCPU (Lambda gives 2 from 3,538 MB): see the bench's throughput section.",
    min: 0,
    max: 6,
    default: 0,
  }),
  fetch: FETCH_SETTINGS,
  retry: RETRY_SETTINGS,
  politeness: POLITENESS_SETTINGS,
} satisfies Settings;
