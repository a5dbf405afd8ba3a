import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFaultServer } from '../support/fault-server.js';

/**
 * The consumer handler with its AWS clients mocked (the real engines run in the integration and e2e tests): what it
 * tells SQS about each record, and what it writes to its logs.
 */
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
let faults: Awaited<ReturnType<typeof startFaultServer>>;
let handler: typeof import('../../functions/handlers/consume.js').handler;
const logged: string[] = [];

beforeAll(async () => {
  const env = {
    CRAWL_TABLE_NAME: 'crawls',
    PAGE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/pages',
    TURN_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/page-turns',
    ALLOW_PRIVATE_NETWORK: 'true',
    MAX_ATTEMPTS: '3',
    RETRY_BASE_DELAY_SECONDS: '10',
    RETRY_MAX_DELAY_SECONDS: '120',
    POWERTOOLS_LOG_LEVEL: 'DEBUG',
    // Metrics on, so their EMF lines can be checked (the test config turns them off elsewhere).
    POWERTOOLS_METRICS_DISABLED: 'false',
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  faults = await startFaultServer();
  // Powertools writes errors to stderr and the rest to stdout: both are the function's log.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (logged.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (logged.push(String(chunk)), true));
  ({ handler } = await import('../../functions/handlers/consume.js'));
});
afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  ddb.restore();
  sqs.restore();
  await faults.close();
});
beforeEach(() => {
  ddb.reset();
  sqs.reset();
  logged.length = 0;
  ddb.on(GetCommand).resolves({});
  ddb.on(BatchGetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
});

function record(id: string, url: string, attempt: number): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `receipt-${id}`,
    body: JSON.stringify({ crawlId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', url, depth: 0, maxDepth: 0, sameOrigin: true }),
    attributes: { ApproximateReceiveCount: String(attempt), SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:pages',
    awsRegion: 'us-east-1',
  };
}
const context = { functionName: 'consume', awsRequestId: 'r', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

describe('the consume handler', () => {
  it('hides a transient failure for its Retry-After and reports it; records the last attempt instead', async () => {
    const busy = `${faults.url.replace('http://', 'http://user:hunter2@')}/429?after=30&token=hunter3`;
    const response = await handler({ Records: [record('early', busy, 1), record('last', busy, 3)] }, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'early' }]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: process.env['PAGE_QUEUE_URL'], ReceiptHandle: 'receipt-early', VisibilityTimeout: 30 },
    ]);
    const recorded = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems![0]!.Put!.Item!);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ ok: false, status: 429, error: { code: 'HTTP_429', message: 'the server answered 429 (3 attempts)' } });
  });

  it('hides a retry on the queue its record came from: the turn queue for a URL that came back for its host’s turn', async () => {
    const busy = `${faults.url}/429?after=20`;
    const fromTurnQueue = { ...record('turn', busy, 1), eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:page-turns' };
    const response = await handler({ Records: [fromTurnQueue, record('page', busy, 1)] }, context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['page', 'turn']);
    const hidden = sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input);
    expect(hidden.sort((a, b) => a.ReceiptHandle!.localeCompare(b.ReceiptHandle!))).toEqual([
      { QueueUrl: process.env['PAGE_QUEUE_URL'], ReceiptHandle: 'receipt-page', VisibilityTimeout: 20 },
      { QueueUrl: process.env['TURN_QUEUE_URL'], ReceiptHandle: 'receipt-turn', VisibilityTimeout: 20 },
    ]);
  });

  it('lets a message go to the DLQ (no visibility change) only when its failure cannot be recorded', async () => {
    ddb.on(TransactWriteCommand).rejects(new Error('DynamoDB is down'));
    const response = await handler({ Records: [record('doomed', `${faults.url}/404`, 3)] }, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'doomed' }]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
    expect(logged.join('')).toMatch(/dead-letter queue/);
  });

  it('never writes URL credentials to its logs', async () => {
    const secret = `${faults.url.replace('http://', 'http://user:hunter2@')}/503?api_key=hunter3&session=hunter4`;
    await handler({ Records: [record('a', secret, 1), record('b', secret, 3)] }, context);
    ddb.on(TransactWriteCommand).rejects(new Error('DynamoDB is down'));
    await handler({ Records: [record('c', secret, 3), { ...record('d', secret, 1), body: `{"url": "${secret}"` }] }, context);
    const logs = logged.join('');
    expect(logs).toMatch(/page will be retried/);
    expect(logs).toMatch(/redacted@/);
    expect(logs).not.toMatch(/hunter[234]/);
  });

  it('publishes page metrics as EMF: fetched, failed by error code, latency, bytes', async () => {
    await handler({ Records: [record('ok', `${faults.url}/ok`, 1), record('gone', `${faults.url}/404`, 1)] }, context);
    const emf = logged
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byName = (name: string) => emf.filter((m) => JSON.stringify(m['_aws']).includes(`"${name}"`));
    expect(byName('PagesFetched')[0]).toMatchObject({ PagesFetched: 1, service: 'serverless-crawler' });
    expect(byName('PagesFailedByCode')[0]).toMatchObject({ PagesFailedByCode: 1, ErrorCode: 'HTTP_404' });
    expect(byName('FetchLatency')[0]?.['FetchLatency']).toEqual([expect.any(Number), expect.any(Number)]);
    expect(byName('PageBytes')[0]).toMatchObject({ PageBytes: 94 });
  });

  // Last: the hanging fetch it leaves behind finishes after the handler has answered, as on Lambda.
  it('answers before its timeout, failing only the pages still in flight, instead of timing out the whole batch', async () => {
    const short = { ...context, getRemainingTimeInMillis: () => 2_500 } as Context;
    const started = Date.now();
    const records = [record('quick', `${faults.url}/ok`, 1), record('stuck', `${faults.url}/hang`, 1), record('stuck-last', `${faults.url}/hang?last`, 3)];
    const response = await handler({ Records: records }, short);
    // The one on its last attempt is not left to reach the DLQ unrecorded: it ends now, as failed with the reason.
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'stuck' }]);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(logged.join('')).toMatch(/invocation deadline reached/);
    const recorded = ddb.commandCalls(TransactWriteCommand).flatMap((c) => c.args[0].input.TransactItems!.filter((i) => i.Put).map((i) => i.Put!.Item!));
    expect(recorded.find((item) => String(item['url']).endsWith('/hang?last'))).toMatchObject({
      ok: false,
      error: { code: 'TIMEOUT', message: "not finished within the consumer's time limit (3 attempts)" },
    });
  });
});
