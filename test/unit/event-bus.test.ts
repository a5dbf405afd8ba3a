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
type PageChanged = Extract<CrawlerEvent, { type: 'page.changed' }>;
/** An event whose detail is about `bytes` long, by its title. */
const sized = (i: number, bytes: number): PageChanged => {
  const [event] = events(1) as [PageChanged];
  return { ...event, url: `https://example.com/big/${i}`, detail: { ...event.detail, summary: { title: 'x'.repeat(bytes) } as never } };
};
/** A request's size as EventBridge's documentation counts it: 14 bytes for Time, the UTF-8 of the strings. */
const requestBytes = (entries: { Source?: string; DetailType?: string; Detail?: string }[]) =>
  entries.reduce((sum, e) => sum + 14 + Buffer.byteLength(`${e.Source}${e.DetailType}${e.Detail}`), 0);
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

  it('cuts a batch of 10 large events into requests under 256 KB each, and puts them all', async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ok(input.Entries.length));
    const bus = new EventBridgePublisher({ busName: 'default', client: new EventBridgeClient({}) });
    const large = Array.from({ length: 10 }, (_, i) => sized(i, 40_000));
    expect(await bus.publish(large)).toEqual([]);
    const requests = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (const entries of requests) expect(requestBytes(entries)).toBeLessThan(256 * 1024);
    expect(requests.flat().map((e) => JSON.parse(e.Detail!).url)).toEqual(large.map((e) => e.detail.url));
  });

  it('gives back untried an event no request can hold, and still puts the others', async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ok(input.Entries.length));
    const tooLarge: { event: CrawlerEvent; bytes: number }[] = [];
    const bus = new EventBridgePublisher({ busName: 'default', client: new EventBridgeClient({}), onTooLarge: (event, bytes) => tooLarge.push({ event, bytes }) });
    const [before, after] = events(2) as PageChanged[];
    const huge = sized(0, 300_000);
    expect(await bus.publish([before!, huge, after!])).toEqual([huge]);
    const put = eventBridge.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries!);
    expect(put.map((e) => JSON.parse(e.Detail!).url)).toEqual([before!.detail.url, after!.detail.url]);
    expect(tooLarge).toEqual([{ event: huge, bytes: expect.any(Number) }]);
    expect(tooLarge[0]!.bytes).toBeGreaterThan(300_000);
  });

  it('gives back the events still failing after its retries', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('network down'));
    const bus = new EventBridgePublisher({ busName: 'default', client: new EventBridgeClient({}), retries: 1 });
    const all = events(2);
    expect(await bus.publish(all)).toEqual(all);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });
});
