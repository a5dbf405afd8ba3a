import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { allPages, call, waitForCompletion } from '../support/api.js';
import { startFaultServer } from '../support/fault-server.js';

// Three attempts, retried at once (Retry-After capped at 1 s), with short fetch deadlines: the whole retry ladder
// runs within the test, through the real queue, redrive policy and consumer.
// The 15 s function timeout leaves room for DynamoDB Local's transaction conflicts on a loaded machine: a batch that
// timed out would be redelivered whole after the visibility timeout, which is not what this test is about.
const config = parseCrawlerConfig({
  consumer: { timeoutSeconds: 15 },
  fetch: { timeoutMs: 1_000, connectTimeoutMs: 500, headersTimeoutMs: 800 },
  queue: { maxReceiveCount: 3 },
  retry: { baseDelaySeconds: 0, maxDelaySeconds: 1 },
});

let stack: LocalStack;
let faults: Awaited<ReturnType<typeof startFaultServer>>;
let sqs: SQSClient;
const stackLog: string[] = [];

beforeAll(async () => {
  process.env['ALLOW_PRIVATE_NETWORK'] = 'true';
  faults = await startFaultServer();
  stack = await startLocalStack({ config, port: 0, log: (line) => stackLog.push(line) });
  sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: stack.sqsEndpoint });
});
afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
  await faults?.close();
});

/** Path on the fault server → how the URL must end, and how many requests the crawler may make for it. */
const LADDER: [path: string, ok: boolean, code: string | null, requests: number, hitKey: string][] = [
  ['/ok', true, null, 1, '/ok'],
  ['/flaky?key=twice&fails=2', true, null, 3, '/flaky?key=twice'],
  ['/flaky?key=reset&fails=1&how=reset', true, null, 2, '/flaky?key=reset'],
  ['/503?key=always', false, 'HTTP_503', 3, '/503?key=always'],
  ['/429?key=busy&after=1', false, 'HTTP_429', 3, '/429?key=busy'],
  ['/hang?key=hang', false, 'TIMEOUT', 3, '/hang?key=hang'],
  ['/404?key=gone', false, 'HTTP_404', 1, '/404?key=gone'],
  ['/gzip-bomb?key=bomb', false, 'TOO_LARGE', 1, '/gzip-bomb?key=bomb'],
  ['/lying-type-image?key=img', false, 'NOT_HTML', 1, '/lying-type-image?key=img'],
];

describe('retries and terminal states through the local stack', () => {
  it('retries transient failures with backoff, not permanent ones, and ends every URL in exactly one state', async () => {
    const urls = LADDER.map(([path]) => `${faults.url}${path}`);
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls });
    expect(submit.status).toBe(202);
    const done = await waitForCompletion(stack.apiUrl, submit.body.crawlId, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nlocal stack log:\n${stackLog.filter((l) => !l.startsWith('GET')).join('\n')}`);
    });
    expect(done).toMatchObject({ status: 'completed', total: 9, succeeded: 3, failed: 6 });

    const pages = new Map((await allPages(stack.apiUrl, submit.body.crawlId)).map((p) => [p.url, p]));
    expect(pages.size).toBe(9);
    for (const [path, ok, code, requests, hitKey] of LADDER) {
      const page = pages.get(`${faults.url}${path}`);
      expect([path, page.ok, page.error?.code ?? null]).toEqual([path, ok, code]);
      expect([path, faults.hits.get(hitKey)]).toEqual([path, requests]);
      // The reason says how many attempts it took when it took more than one.
      if (!ok && requests > 1) expect(page.error.message).toMatch(/\(3 attempts\)$/);
    }
    // Nothing reached the dead-letter queue: every failure was recorded instead.
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.resources.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(dead.Messages ?? []).toEqual([]);
  }, 90_000);
});
