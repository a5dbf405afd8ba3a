import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, waitForCompletion } from '../../harness/api.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startSite } from '../support/site.js';

// A 3 s function timeout gives an 18 s visibility timeout, so redelivery and redrive happen within the test.
const config = parseCrawlerConfig({
  consumer: { timeoutSeconds: 3, batchSize: 10, maxBatchingWindowSeconds: 1 },
  fetch: { timeoutMs: 1_000 },
  queue: { maxReceiveCount: 2 },
  // A loopback site of our own: no delay between requests to it (politeness has its own tests).
  politeness: { hostDelayMs: 0 },
});

let stack: LocalStack;
let site: Awaited<ReturnType<typeof startSite>>;
let sqs: SQSClient;

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  site = await startSite();
  stack = await startLocalStack({ config, port: 0 });
  sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: stack.sqsEndpoint });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  sqs?.destroy();
  await stack?.stop();
  await site?.close();
});

describe('the local SQS event source behaves like Lambda\'s', () => {
  it('deletes the records that succeeded, redelivers the one that failed, and moves it to the DLQ after maxReceiveCount', async () => {
    const submit = await call(stack.apiUrl, 'POST', '/crawls', { urls: [`${site.url}/page/1`] });
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.resources.queueUrl, MessageBody: '{"not":"a page message"}' }));
    await waitForCompletion(stack.apiUrl, submit.body.crawlId, 20_000);

    const deadline = Date.now() + 60_000;
    let dead: string[] = [];
    while (dead.length === 0 && Date.now() < deadline) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.resources.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ['All'] }));
      dead = (out.Messages ?? []).map((m) => m.Body ?? '');
    }
    expect(dead).toEqual(['{"not":"a page message"}']);
    // The good page was processed once and not redelivered with its failed neighbour.
    expect(site.hits.get('/page/1')).toBe(1);
    expect((await call(stack.apiUrl, 'GET', `/crawls/${submit.body.crawlId}`)).body).toMatchObject({ total: 1, succeeded: 1 });
  }, 90_000);
});
