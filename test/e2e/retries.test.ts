import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startFaultServer } from '../support/fault-server.js';

// Three attempts, retried at once (Retry-After capped at 1 s), with short fetch deadlines: the whole retry ladder
// runs within the test, through the real queue, redrive policy and consumer.
// A 5 s function timeout gives a 30 s visibility timeout: a retry whose delay could not be set still comes back
// within the test's wait (and the consumer's warnings are printed if the crawl does not complete).
// Every container is a thread on this machine's cores (Lambda gives each its own): a laptop's share of containers keeps
// 5 s invocations inside their timeout on a busy machine.
const config = parseCrawlerConfig({
  consumer: { timeoutSeconds: 5, maxConcurrency: 4 },
  fetch: { timeoutMs: 1_000, connectTimeoutMs: 500, headersTimeoutMs: 800 },
  queue: { maxReceiveCount: 3 },
  retry: { baseDelaySeconds: 0, maxDelaySeconds: 1 },
  // A loopback server of our own, failing on purpose: no delay between requests, and no AutoThrottle slowing it down
  // (politeness has its own tests).
  politeness: { hostDelayMs: 0, maxThrottleMs: 0 },
});

let stack: LocalStack;
let faults: Awaited<ReturnType<typeof startFaultServer>>;
let sqs: SQSClient;
const stackLog: string[] = [];
const warnings: string[] = [];

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'WARN');
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).includes('"level":"WARN"')) warnings.push(String(chunk).trim());
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  faults = await startFaultServer();
  stack = await startLocalStack({ config, port: 0, log: (line) => stackLog.push(line) });
  sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: stack.sqsEndpoint });
});
afterAll(async () => {
  vi.unstubAllEnvs();
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
    const done = await waitForCompletion(stack.apiUrl, submit.body.crawlId, 75_000).catch(async (err: Error) => {
      const recorded = (await allPages(stack.apiUrl, submit.body.crawlId)).map((p) => p.url.replace(faults.url, ''));
      const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.resources.deadLetterQueueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'] }));
      const queued = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.resources.queueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'], VisibilityTimeout: 0 }));
      throw new Error(
        `${err.message}\nlocal stack log:\n${stackLog.filter((l) => !l.startsWith('GET')).join('\n')}\nwarnings:\n${warnings.join('\n')}` +
          `\nrecorded: ${recorded.join(' ')}\nhits: ${JSON.stringify([...faults.hits])}` +
          `\nDLQ: ${JSON.stringify((dead.Messages ?? []).map((m) => [m.Body, m.Attributes?.['ApproximateReceiveCount']]))}` +
          `\nqueue: ${JSON.stringify((queued.Messages ?? []).map((m) => [m.Body, m.Attributes?.['ApproximateReceiveCount']]))}`,
      );
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
  }, 120_000);
});
