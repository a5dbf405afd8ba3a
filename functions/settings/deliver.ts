import { DEFAULT_RETRY_BASE_SECONDS, MAX_RETRY_BASE_SECONDS } from '../core/webhooks/retry-schedule.js';
import { WEBHOOK_QUEUE_SETTINGS } from './resources.js';
import { integer, resource, safetySwitch, type Settings } from './setting.js';

const TIMEOUT_RANGE = { min: 100, max: 60_000 };

/** The deliver function POSTs each webhook delivery of its queue, signed, and sets the retry delay of those that failed. */
export const DELIVER_SETTINGS = {
  /** The queue it consumes: the retry delay is set on its messages. */
  queue: WEBHOOK_QUEUE_SETTINGS,
  secret: resource('secret', {
    env: 'WEBHOOK_SECRET',
    doc:
      'The key that signs every body. On AWS the ARN of the Secrets Manager secret the stack creates (the binding sets ' +
      'it and grants reading it), read once at cold start; a value that is not a Secrets Manager ARN is the key itself, ' +
      'as in the local stack, which has no Secrets Manager and passes its own WEBHOOK_SECRET (or one it generated).',
  }),
  timeoutMs: integer({
    env: 'WEBHOOK_TIMEOUT_MS',
    doc: "Deadline for one delivery: connect, send and the receiver's answer.",
    ...TIMEOUT_RANGE,
    default: 10_000,
  }),
  connectTimeoutMs: integer({
    env: 'WEBHOOK_CONNECT_TIMEOUT_MS',
    doc: 'Deadline for one TCP (and TLS) connection to a receiver to be set up.',
    ...TIMEOUT_RANGE,
    default: 5_000,
  }),
  retryBaseSeconds: integer({
    env: 'WEBHOOK_RETRY_BASE_SECONDS',
    doc:
      "The retry schedule's base (core/webhooks/retry-schedule.ts): every delay is a multiple of it. At the default a " +
      "failing receiver is retried for at least an hour before the queue's last receive; smaller is for tests.",
    min: 0,
    max: MAX_RETRY_BASE_SECONDS,
    default: DEFAULT_RETRY_BASE_SECONDS,
  }),
  concurrency: integer({
    env: 'WEBHOOK_CONCURRENCY',
    doc: "Deliveries POSTed at once inside one invocation (the rest of the batch waits for a turn within the function's timeout).",
    min: 1,
    max: 100,
    default: 10,
  }),
  allowPrivateNetwork: safetySwitch({
    env: 'ALLOW_PRIVATE_NETWORK',
    doc: 'Deliver to loopback and private addresses too (the SSRF guard refuses them otherwise): for a receiver on your own machine.',
  }),
} satisfies Settings;
