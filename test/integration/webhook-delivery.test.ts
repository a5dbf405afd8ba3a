import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startSqsServer, type RunningEngine } from '../../local/engines.js';
import { postGuarded, type PostLimits } from '../../functions/core/fetch/http-post.js';
import { deliverWebhook, type DeliverDeps } from '../../functions/core/webhooks/deliver-webhook.js';
import { deliveryId, webhookBody, type WebhookDelivery } from '../../functions/core/webhooks/delivery-message.js';
import { WEBHOOK_MAX_RECEIVE_COUNT } from '../../functions/core/webhooks/retry-schedule.js';
import { verifySignature } from '../../functions/core/webhooks/signing.js';

/**
 * The deliver handler on the real local SQS engine, as Lambda's event source drives it (receive, invoke, delete what
 * succeeded), POSTing to a receiver on loopback.
 */
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const context = { functionName: 'deliver', awsRequestId: 'r', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
const secret = randomBytes(32).toString('hex');
const RETRY_BASE_SECONDS = 2;
const TIMEOUT_MS = 1_500;

let engine: RunningEngine;
let sqs: SQSClient;
let queueUrl: string;
let receiver: LoopbackServer;
let answer: (req: IncomingMessage, res: ServerResponse, index: number) => void;
const received: Array<{ at: number; path: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
const logged: string[] = [];

/** The handler as a container loads it: settings read once, so each network access needs a module of its own. */
async function loadHandler(allowPrivateNetwork: boolean): Promise<Handler> {
  vi.resetModules();
  if (allowPrivateNetwork) vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  else vi.stubEnv('ALLOW_PRIVATE_NETWORK', undefined);
  return (await import('../../functions/handlers/deliver.js')).handler;
}
let guarded: Handler;
let open: Handler;

beforeAll(async () => {
  engine = await startSqsServer();
  sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: engine.endpoint });
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'webhook-deliveries-dlq' }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ['QueueArn'] }))).Attributes!['QueueArn']!;
  // A default visibility far longer than any test waits: a message back sooner was hidden by the handler's delay.
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: 'webhook-deliveries',
      Attributes: { VisibilityTimeout: '300', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT }) },
    }),
  );
  queueUrl = queue.QueueUrl!;
  receiver = await startLoopbackServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      answer(req, res, received.length - 1);
    });
  });
  const env = {
    WEBHOOK_QUEUE_URL: queueUrl,
    WEBHOOK_SECRET: secret,
    WEBHOOK_RETRY_BASE_SECONDS: String(RETRY_BASE_SECONDS),
    WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    WEBHOOK_CONNECT_TIMEOUT_MS: '1000',
    AWS_ENDPOINT_URL_SQS: engine.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: LOCAL_REGION,
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (logged.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (logged.push(String(chunk)), true));
  guarded = await loadHandler(false);
  open = await loadHandler(true);
});
afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await receiver?.close();
  sqs?.destroy();
  await engine?.stop();
});
beforeEach(() => {
  received.length = 0;
  logged.length = 0;
  answer = (_, res) => res.writeHead(204).end();
});

let sequence = 0;
/** A delivery of a fresh event to the receiver (or to another URL). */
function aDelivery(webhookUrl = `${receiver.url}/hook`): WebhookDelivery {
  const crawlId = `crawl-${++sequence}`;
  return { id: deliveryId('crawl.completed', crawlId), type: 'crawl.completed', createdAt: new Date().toISOString(), data: { crawlId, status: 'completed' }, webhookUrl, crawlId };
}

/** One turn of Lambda's event source: receive the queued delivery, invoke, delete it if it succeeded. */
async function pollOnce(handler: Handler): Promise<{ receiveCount: number; failed: boolean }> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5, AttributeNames: ['All'] }));
    const message = out.Messages?.[0];
    if (!message) continue;
    const record = {
      messageId: message.MessageId!,
      receiptHandle: message.ReceiptHandle!,
      body: message.Body!,
      attributes: message.Attributes as unknown as SQSRecord['attributes'],
      messageAttributes: {},
      md5OfBody: message.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:webhook-deliveries',
      awsRegion: LOCAL_REGION,
    } satisfies SQSRecord;
    const response = await handler({ Records: [record] }, context);
    const failed = response.batchItemFailures.some((f) => f.itemIdentifier === record.messageId);
    if (!failed) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }));
    return { receiveCount: Number(message.Attributes?.['ApproximateReceiveCount']), failed };
  }
  throw new Error('no delivery came back within 20 s');
}

const send = (delivery: WebhookDelivery) => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(delivery) }));
const logLines = () => logged.flatMap((chunk) => chunk.split('\n')).filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
const limits = (allowPrivateNetwork: boolean): PostLimits => ({ timeoutMs: TIMEOUT_MS, connectTimeoutMs: 1_000, allowPrivateNetwork });
const deps = (allowPrivateNetwork: boolean): DeliverDeps => ({ secret, post: (url, body, headers) => postGuarded(url, body, headers, limits(allowPrivateNetwork)), retryBaseSeconds: 1 });

describe('webhook delivery', () => {
  it('POSTs the delivery signed with the secret, and the receiver verifies it', async () => {
    const delivery = aDelivery();
    await send(delivery);
    expect(await pollOnce(open)).toEqual({ receiveCount: 1, failed: false });
    expect(received).toHaveLength(1);
    const [request] = received as [(typeof received)[number]];
    expect(request.body.toString('utf8')).toBe(webhookBody(delivery));
    expect(JSON.parse(request.body.toString('utf8'))).toEqual({ id: delivery.id, type: 'crawl.completed', createdAt: delivery.createdAt, data: delivery.data });
    expect(request.headers).toMatchObject({ 'content-type': 'application/json', 'x-crawler-event': 'crawl.completed', 'x-crawler-delivery': delivery.id });
    expect(verifySignature(secret, request.body, request.headers['x-crawler-signature'] as string)).toBe(true);
    expect(verifySignature('another secret', request.body, request.headers['x-crawler-signature'] as string)).toBe(false);
    const line = logLines().find((l) => l['message'] === 'webhook delivered');
    expect(line).toMatchObject({ deliveryId: delivery.id, status: 204, attempt: 1 });
    expect(logged.join('')).not.toContain(secret);
  });

  it('retries a receiver that fails, backing off, and delivers the third time', async () => {
    answer = (_, res, index) => res.writeHead(index < 2 ? 500 : 200).end('ok');
    const delivery = aDelivery();
    await send(delivery);
    const turns = [await pollOnce(open), await pollOnce(open), await pollOnce(open)];
    expect(turns).toEqual([
      { receiveCount: 1, failed: true },
      { receiveCount: 2, failed: true },
      { receiveCount: 3, failed: false },
    ]);
    expect(received.map((r) => r.headers['x-crawler-delivery'])).toEqual([delivery.id, delivery.id, delivery.id]);
    // Hidden for the schedule's delays (base, then twice it): later than that, never sooner.
    const gaps = [received[1]!.at - received[0]!.at, received[2]!.at - received[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(RETRY_BASE_SECONDS * 1000 - 250);
    expect(gaps[1]).toBeGreaterThanOrEqual(2 * RETRY_BASE_SECONDS * 1000 - 250);
    const failures = logLines().filter((l) => l['message'] === 'webhook delivery failed; it will be retried');
    expect(failures.map((l) => [l['code'], l['delaySeconds']])).toEqual([
      ['HTTP_500', RETRY_BASE_SECONDS],
      ['HTTP_500', 2 * RETRY_BASE_SECONDS],
    ]);
  });

  it('does not follow a redirect: a 3xx is a failed delivery', async () => {
    answer = (req, res) => (req.url === '/hook' ? res.writeHead(302, { location: `${receiver.url}/elsewhere` }).end() : res.writeHead(200).end());
    expect(await deliverWebhook(aDelivery(), deps(true), 1)).toMatchObject({ kind: 'retry', code: 'HTTP_302', status: 302 });
    expect(received.map((r) => r.path)).toEqual(['/hook']);
  });

  it.each([
    ['an IP literal', (url: string) => url],
    ['localhost', (url: string) => url.replace('127.0.0.1', 'localhost')],
  ])('refuses a private address (%s) unless private networks are allowed', async (_, spell) => {
    const refused = await deliverWebhook(aDelivery(spell(`${receiver.url}/hook`)), deps(false), 1);
    expect(refused).toMatchObject({ kind: 'retry', code: 'BLOCKED_ADDRESS', status: null });
    expect(received).toHaveLength(0);

    await send(aDelivery(spell(`${receiver.url}/hook`)));
    expect(await pollOnce(guarded)).toEqual({ receiveCount: 1, failed: true });
    expect(received).toHaveLength(0);
    expect(logLines().find((l) => l['code'] === 'BLOCKED_ADDRESS')).toBeDefined();
  });

  it('delivers to a private address when private networks are allowed', async () => {
    expect(await deliverWebhook(aDelivery(), deps(true), 1)).toEqual({ kind: 'delivered', status: 204 });
    expect(received).toHaveLength(1);
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    answer = () => undefined; // never answers
    expect(await deliverWebhook(aDelivery(), deps(true), 1)).toMatchObject({ kind: 'retry', code: 'TIMEOUT', reason: `no response within ${TIMEOUT_MS} ms` });
    expect(await deliverWebhook(aDelivery(), deps(true), WEBHOOK_MAX_RECEIVE_COUNT)).toMatchObject({ kind: 'gave-up', code: 'TIMEOUT' });
    expect(received).toHaveLength(2);
  });
});
