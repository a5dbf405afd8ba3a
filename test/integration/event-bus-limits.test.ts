import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../../functions/adapters/event-bus.js';
import type { CrawlerEvent } from '../../functions/core/events/events.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startEventBus, type RunningEventBus } from '../../local/event-bus.js';

/** The local stack's EventBridge stand-in holds requests to EventBridge's size limit, and the publisher keeps to it. */
let bus: RunningEventBus;
let client: EventBridgeClient;

beforeAll(async () => {
  bus = await startEventBus();
  client = new EventBridgeClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: bus.endpoint });
});
afterAll(async () => {
  client?.destroy();
  await bus?.stop();
});

const completed = (i: number, nameBytes: number): CrawlerEvent => ({
  detailType: 'Crawl Completed',
  type: 'crawl.completed',
  crawlId: `C${i}`,
  time: '2026-01-01T00:00:00.000Z',
  detail: { crawlId: `C${i}`, status: 'completed', total: 1, succeeded: 1, failed: 0, createdAt: '2026-01-01T00:00:00.000Z', name: 'n'.repeat(nameBytes) },
});

describe('PutEvents size on the local bus', () => {
  it('refuses a request whose entries hold 256 KB or more in all, as EventBridge does', async () => {
    const entry = { Source: 'serverless-crawler', DetailType: 'Crawl Completed', Detail: JSON.stringify({ name: 'n'.repeat(150_000) }) };
    await expect(client.send(new PutEventsCommand({ Entries: [entry, entry] }))).rejects.toMatchObject({ name: 'ValidationException' });
    expect(bus.events).toHaveLength(0);
  });

  it('takes every event of a publish whose events are too large to go ten to a request', async () => {
    const events = Array.from({ length: 10 }, (_, i) => completed(i, 40_000));
    const publisher = new EventBridgePublisher({ busName: 'default', client, retries: 0 });
    expect(await publisher.publish(events)).toEqual([]);
    const crawlIds = bus.events.flatMap((e) => (e.detail as { crawlId?: string }).crawlId ?? []);
    expect(crawlIds).toEqual(events.map((e) => e.crawlId));
  });
});
