import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SQS_BATCH_BYTES, SqsWebhookQueue } from '../../functions/adapters/webhook-queue.js';
import type { WebhookDelivery } from '../../functions/core/webhooks/delivery-message.js';

const sqs = mockClient(SQSClient);
/** A page.changed delivery whose body is about `bytes` long, by its data. */
const delivery = (i: number, bytes: number): WebhookDelivery => ({
  id: `d${i}`,
  type: 'page.changed',
  createdAt: '2026-01-01T00:00:00.000Z',
  data: { title: 'x'.repeat(bytes) },
  webhookUrl: 'https://hooks.example/in',
  crawlId: 'C',
});

beforeEach(() => sqs.reset());
afterAll(() => sqs.restore());

describe('SqsWebhookQueue', () => {
  it("cuts batches by SQS's size limit as well as by 10 entries, and gives back a delivery no batch can carry without holding up the others", async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const large = delivery(99, SQS_BATCH_BYTES + 1);
    const deliveries = [...Array.from({ length: 10 }, (_, i) => delivery(i, 60_000)), large];
    const unsent = await new SqsWebhookQueue({ queueUrl: 'https://sqs.local/q', client: new SQSClient({}), retries: 0 }).send(deliveries);
    expect(unsent).toEqual([large]);
    const calls = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const entries of calls) expect(entries.reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? ''), 0)).toBeLessThanOrEqual(SQS_BATCH_BYTES);
    expect(calls.flat().map((e) => (JSON.parse(e.MessageBody!) as WebhookDelivery).id)).toEqual(deliveries.slice(0, 10).map((d) => d.id));
  });
});
