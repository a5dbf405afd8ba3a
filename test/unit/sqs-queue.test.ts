import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SqsPageQueue } from '../../functions/adapters/sqs-queue.js';
import type { PageMessage } from '../../functions/core/model/page-message.js';

const sqs = mockClient(SQSClient);
const messages = (n: number): PageMessage[] =>
  Array.from({ length: n }, (_, i) => ({ crawlId: 'C', url: `https://example.com/${i}`, depth: 0, maxDepth: 0, sameOrigin: true }));

beforeEach(() => sqs.reset());
afterAll(() => sqs.restore());

describe('SqsPageQueue', () => {
  it('sends 10 messages per SendMessageBatch', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const queue = new SqsPageQueue({ queueUrl: 'q', client: new SQSClient({}) });
    expect(await queue.send(messages(25))).toEqual([]);
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries!.length)).toEqual([10, 10, 5]);
    const bodies = calls.flatMap((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.MessageBody!).url));
    expect(new Set(bodies).size).toBe(25);
  });

  it('retries only the entries SQS reported as failed', async () => {
    sqs.on(SendMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '1', SenderFault: false, Code: 'InternalError' }, { Id: '3', SenderFault: false, Code: 'InternalError' }] })
      .resolves({ Failed: [] });
    const queue = new SqsPageQueue({ queueUrl: 'q', client: new SQSClient({}) });
    expect(await queue.send(messages(5))).toEqual([]);
    const retry = sqs.commandCalls(SendMessageBatchCommand)[1]!.args[0].input.Entries!;
    expect(retry.map((e) => JSON.parse(e.MessageBody!).url)).toEqual(['https://example.com/1', 'https://example.com/3']);
  });

  it('returns what could not be sent after its retries, including calls that threw', async () => {
    sqs.on(SendMessageBatchCommand).rejects(new Error('throttled'));
    const queue = new SqsPageQueue({ queueUrl: 'q', client: new SQSClient({}), retries: 2 });
    const unsent = await queue.send(messages(3));
    expect(unsent.map((m) => m.url)).toEqual(messages(3).map((m) => m.url));
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });
});
