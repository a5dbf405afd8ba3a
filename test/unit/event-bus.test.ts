import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../../functions/adapters/event-bus.js';
import type { CrawlerEvent } from '../../functions/core/events/events.js';

const eventBridge = mockClient(EventBridgeClient);
const events = (n: number): CrawlerEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    detailType: 'Page Changed',
    type: 'page.changed',
    crawlId: 'C',
    url: `https://example.com/${i}`,
    time: '2026-01-01T00:00:00.000Z',
    detail: { crawlId: 'C', url: `https://example.com/${i}`, changedFields: ['text'], previous: null, summary: {} as never },
  }));
const ok = (n: number) => ({ FailedEntryCount: 0, Entries: Array.from({ length: n }, (_, i) => ({ EventId: `e${i}` })) });

beforeEach(() => eventBridge.reset());
afterAll(() => eventBridge.restore());

describe('EventBridgePublisher', () => {
  it('puts 10 events per PutEvents, on its bus, as source serverless-crawler with the detail as JSON', async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ok(input.Entries.length));
    const bus = new EventBridgePublisher({ busName: 'default', client: new EventBridgeClient({}) });
    expect(await bus.publish(events(23))).toEqual([]);
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls.map((c) => c.args[0].input.Entries!.length)).toEqual([10, 10, 3]);
    expect(calls[0]!.args[0].input.Entries![0]).toMatchObject({ EventBusName: 'default', Source: 'serverless-crawler', DetailType: 'Page Changed', Time: new Date('2026-01-01T00:00:00.000Z') });
    expect(JSON.parse(calls[0]!.args[0].input.Entries![0]!.Detail!)).toMatchObject({ url: 'https://example.com/0' });
  });

  it('puts again only the entries EventBridge reported failed', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: 'a' }, { ErrorCode: 'ThrottlingException' }, { EventId: 'c' }] })
      .resolves(ok(1));
    const bus = new EventBridgePublisher({ busName: 'default', client: new EventBridgeClient({}) });
    expect(await bus.publish(events(3))).toEqual([]);
    const second = eventBridge.commandCalls(PutEventsCommand)[1]!.args[0].input.Entries!;
    expect(second.map((e) => JSON.parse(e.Detail!).url)).toEqual(['https://example.com/1']);
  });

  it('gives back the events still failing after its retries', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('network down'));
    const bus = new EventBridgePublisher({ busName: 'default', client: new EventBridgeClient({}), retries: 1 });
    const all = events(2);
    expect(await bus.publish(all)).toEqual(all);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });
});
