import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { ulid } from 'ulid';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../../functions/adapters/event-bus.js';
import { tableChangeOf } from '../../functions/adapters/table-stream.js';
import { SqsWebhookQueue } from '../../functions/adapters/webhook-queue.js';
import { CrawlCache } from '../../functions/core/crawl/crawl-cache.js';
import { crawlStatusView } from '../../functions/core/crawl/read-crawls.js';
import { publishChanges } from '../../functions/core/events/publish-changes.js';
import type { Crawl, Webhook } from '../../functions/core/model/crawl.js';
import type { Summary } from '../../functions/core/model/summary.js';
import { deliveryId, webhookDeliverySchema, type WebhookDelivery } from '../../functions/core/webhooks/delivery-message.js';
import { PUBLISH_EVENT_SOURCE } from '../../lib/function-definitions.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startEventBus, type RunningEventBus } from '../../local/event-bus.js';
import { startStreamSource, type RunningStreamSource, type StreamBatchFailure } from '../../local/stream-source.js';
import { startEngines, type Engines } from '../support/engines.js';

/**
 * The table's stream on DynamoDB Local, read by the local stream source with the event source's own filters, into the
 * publish use case with its real adapters: EventBridge's stand-in and the webhook queue on the SQS server.
 */
let engines: Engines;
let bus: RunningEventBus;
let streams: DynamoDBStreamsClient;
let eventBridge: EventBridgeClient;
let source: RunningStreamSource;
/** Every record the function was given, batch by batch. */
const given: DynamoDBRecord[][] = [];
/** What the function does with a batch: the publish handler's work unless a test says otherwise. */
let behaviour: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
const failures: StreamBatchFailure[] = [];
/** Set to make the source's next GetRecords throw, as when an iterator expires or DynamoDB Local restarts. */
let failNextRead = false;

beforeAll(async () => {
  [engines, bus] = await Promise.all([startEngines(), startEventBus()]);
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  // DynamoDB Local serves the streams API on its own endpoint.
  const endpoint = await engines.dynamodb.config.endpoint!();
  streams = new DynamoDBStreamsClient({ ...common, endpoint: `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}` });
  streams.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetRecordsCommand' && failNextRead) {
        failNextRead = false;
        throw Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'failNextRead' },
  );
  eventBridge = new EventBridgeClient({ ...common, endpoint: bus.endpoint });
  // One source for the whole file, as the stream has one event source: each test looks at its own crawls' records.
  source = startStreamSource({
    streams,
    streamArn: engines.resources.streamArn,
    region: LOCAL_REGION,
    ...PUBLISH_EVENT_SOURCE,
    pollIntervalMs: 50,
    invoke: (event) => {
      given.push(event.Records);
      return behaviour(event);
    },
    onFailure: async (failure) => void failures.push(failure),
  });
});
beforeEach(() => {
  behaviour = publish;
});
afterAll(async () => {
  await source?.stop();
  streams?.destroy();
  eventBridge?.destroy();
  await Promise.all([engines?.stop(), bus?.stop()]);
});

/** The publish handler's work, on the real adapters. */
function publish(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const crawls = new CrawlCache(engines.store, 60_000);
  return publishChanges(event.Records.map(tableChangeOf), {
    bus: new EventBridgePublisher({ busName: 'default', client: eventBridge }),
    deliveries: new SqsWebhookQueue({ queueUrl: engines.resources.webhookQueueUrl, client: engines.sqs }),
    crawl: (id) => crawls.get(id),
  }).then((report) => ({ batchItemFailures: report.failed.map((itemIdentifier) => ({ itemIdentifier })) }));
}

const webhook: Webhook = { url: 'https://hooks.example/crawler', events: ['crawl.completed', 'page.changed'] };

async function newCrawl(url: string, hook: Webhook | undefined = webhook): Promise<Crawl> {
  const crawl: Crawl = {
    crawlId: ulid(),
    status: 'running',
    total: 1,
    succeeded: 0,
    failed: 0,
    createdAt: new Date().toISOString(),
    options: { maxDepth: 0, sameOrigin: true },
    source: { kind: 'api' },
    ...(hook ? { webhook: hook } : {}),
  };
  await engines.store.createCrawl(crawl, [url]);
  return crawl;
}

function summary(url: string, change: Summary['change']): Summary {
  return {
    url, finalUrl: url, status: 200, ok: true, contentType: 'text/html', charset: 'utf-8', title: 'now', lang: null,
    description: null, canonical: null, h1: 1, links: 0, images: 0, bytes: 100, durationMs: 5, fetchedAt: new Date().toISOString(),
    contentHash: 'c2', textHash: 't2', depth: 0, change,
    changedFields: change === 'changed' ? ['title', 'text'] : [],
    previous: change === 'new' ? null : { crawlId: ulid(), fetchedAt: new Date(0).toISOString(), contentHash: 'c1' },
  };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function receiveDeliveries(crawlId: string): Promise<WebhookDelivery[]> {
  const out = await engines.sqs.send(new ReceiveMessageCommand({ QueueUrl: engines.resources.webhookQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  const mine: WebhookDelivery[] = [];
  for (const m of out.Messages ?? []) {
    const delivery = webhookDeliverySchema.parse(JSON.parse(m.Body!));
    if (delivery.crawlId !== crawlId) continue;
    mine.push(delivery);
    await engines.sqs.send(new DeleteMessageCommand({ QueueUrl: engines.resources.webhookQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
  }
  return mine;
}

const eventsOf = (crawlId: string) => bus.events.filter((e) => (e.detail as { crawlId?: string }).crawlId === crawlId);
const ofCrawl = (crawlId: string) => (record: DynamoDBRecord) => record.dynamodb?.Keys?.['PK']?.S === `CRAWL#${crawlId}`;
/** The records of this crawl the function was given, batch by batch. */
const givenFor = (crawlId: string) => given.map((batch) => batch.filter(ofCrawl(crawlId))).filter((batch) => batch.length > 0);

describe('the stream into the publish function', () => {
  it('gives it only the completing write of a crawl, which becomes one Crawl Completed and one crawl.completed delivery', async () => {
    const url = 'https://a.example/';
    const crawl = await newCrawl(url);
    await engines.store.recordPage(crawl.crawlId, summary(url, 'new'), 0);
    expect(await engines.store.completeIfDone(crawl.crawlId, new Date().toISOString())).toBe(true);

    const [event] = await until('the Crawl Completed event', () => (eventsOf(crawl.crawlId).length > 0 ? eventsOf(crawl.crawlId) : undefined));
    const completed = (await engines.store.getCrawl(crawl.crawlId))!;
    expect(event).toMatchObject({ source: 'serverless-crawler', detailType: 'Crawl Completed', detail: crawlStatusView(completed), time: completed.completedAt });
    const deliveries = await until('the delivery', async () => {
      const found = await receiveDeliveries(crawl.crawlId);
      return found.length > 0 ? found : undefined;
    });
    expect(deliveries).toEqual([
      { id: deliveryId('crawl.completed', crawl.crawlId), type: 'crawl.completed', createdAt: completed.completedAt, data: crawlStatusView(completed), webhookUrl: webhook.url, crawlId: crawl.crawlId },
    ]);
    // The crawl's creation, its counters and the page recorded as new never reached the function.
    expect(givenFor(crawl.crawlId).flat().map((r) => r.dynamodb?.Keys?.['SK']?.S)).toEqual(['#META']);
  });

  it('turns a page recorded as changed into Page Changed and a page.changed delivery, and a page recorded the same into nothing', async () => {
    const changedUrl = 'https://b.example/changed';
    const sameUrl = 'https://b.example/same';
    const crawl = await newCrawl(changedUrl, { url: webhook.url, events: ['page.changed'] });
    // Milliseconds in fetchedAt: the event and its delivery are dated exactly when the change was seen.
    const changed = { ...summary(changedUrl, 'changed'), fetchedAt: '2026-11-30T16:33:59.562Z' };
    await engines.store.recordPages(crawl.crawlId, [
      { summary: summary(sameUrl, 'same'), depth: 0 },
      { summary: changed, depth: 0 },
    ]);

    const [event] = await until('the Page Changed event', () => (eventsOf(crawl.crawlId).length > 0 ? eventsOf(crawl.crawlId) : undefined));
    expect(event).toMatchObject({
      detailType: 'Page Changed',
      time: changed.fetchedAt,
      detail: { crawlId: crawl.crawlId, url: changedUrl, changedFields: ['title', 'text'], previous: changed.previous, summary: changed },
    });
    const [delivery] = await until('the delivery', async () => {
      const found = await receiveDeliveries(crawl.crawlId);
      return found.length > 0 ? found : undefined;
    });
    expect(delivery).toMatchObject({ id: deliveryId('page.changed', crawl.crawlId, changedUrl), type: 'page.changed', createdAt: changed.fetchedAt, data: event!.detail, webhookUrl: webhook.url });
    expect(givenFor(crawl.crawlId).flat().map((r) => r.dynamodb?.NewImage?.['url']?.S)).toEqual([changedUrl]);
  });

  it('sends no delivery for an event the webhook did not choose, nor for a crawl without one', async () => {
    const chosen = await newCrawl('https://c.example/', { url: webhook.url, events: ['page.changed'] });
    const none = await newCrawl('https://d.example/', undefined);
    // Completed last, and the stream is in order: once its delivery is queued, the batches before it were done.
    const witness = await newCrawl('https://w.example/');
    for (const [crawl, url] of [[chosen, 'https://c.example/'], [none, 'https://d.example/'], [witness, 'https://w.example/']] as const) {
      await engines.store.recordPage(crawl.crawlId, summary(url, 'new'), 0);
      await engines.store.completeIfDone(crawl.crawlId, new Date().toISOString());
    }
    await until('the witness delivery', async () => ((await receiveDeliveries(witness.crawlId)).length > 0 ? true : undefined));
    expect(eventsOf(chosen.crawlId).map((e) => e.detailType)).toEqual(['Crawl Completed']);
    expect(eventsOf(none.crawlId).map((e) => e.detailType)).toEqual(['Crawl Completed']);
    expect([...(await receiveDeliveries(chosen.crawlId)), ...(await receiveDeliveries(none.crawlId))]).toEqual([]);
  });

  it('gives a record the function reported failed again, with the records after it, until it succeeds', async () => {
    const crawl = await newCrawl('https://e.example/');
    let failed: string | undefined;
    behaviour = async (event) => {
      // The crawl's completion fails once: its page's record before it went through.
      const completion = event.Records.find((r) => ofCrawl(crawl.crawlId)(r) && r.dynamodb?.Keys?.['SK']?.S === '#META');
      if (completion && failed === undefined) {
        failed = completion.dynamodb!.SequenceNumber!;
        await publish({ Records: event.Records.slice(0, event.Records.indexOf(completion)) });
        return { batchItemFailures: [{ itemIdentifier: failed }] };
      }
      return publish(event);
    };
    await engines.store.recordPage(crawl.crawlId, summary('https://e.example/', 'changed'), 0);
    await engines.store.completeIfDone(crawl.crawlId, new Date().toISOString());
    await until('both events', () => (eventsOf(crawl.crawlId).length === 2 ? true : undefined));
    // The failed record came again, in a batch of its own: the page's record before it did not.
    const batches = givenFor(crawl.crawlId).map((batch) => batch.map((r) => r.dynamodb!.Keys!['SK']!.S));
    expect(batches.at(-1)).toEqual(['#META']);
    expect(batches.flat().filter((sk) => sk === '#META')).toHaveLength(2);
    expect(batches.flat().filter((sk) => sk !== '#META')).toHaveLength(1);
    expect(eventsOf(crawl.crawlId).map((e) => e.detailType).sort()).toEqual(['Crawl Completed', 'Page Changed']);
  });

  it('describes a batch that keeps failing to the on-failure destination after its retries, then goes on', async () => {
    const first = await newCrawl('https://f.example/');
    let doomed: string | undefined;
    behaviour = async (event) => {
      doomed ??= event.Records.find(ofCrawl(first.crawlId))?.dynamodb!.SequenceNumber;
      if (event.Records.some((r) => r.dynamodb!.SequenceNumber === doomed)) throw new Error('the function fails on this record');
      return publish(event);
    };
    await engines.store.recordPage(first.crawlId, summary('https://f.example/', 'changed'), 0);
    await until('the failure described', () => (failures.length > 0 ? true : undefined));
    expect(failures[0]!.DDBStreamBatchInfo).toMatchObject({ startSequenceNumber: doomed, endSequenceNumber: doomed, batchSize: 1, streamArn: engines.resources.streamArn });
    expect(failures[0]!.requestContext.approximateInvokeCount).toBe(PUBLISH_EVENT_SOURCE.retryAttempts + 1);
    // The shard went on past it.
    const second = await newCrawl('https://g.example/');
    await engines.store.recordPage(second.crawlId, summary('https://g.example/', 'changed'), 0);
    await until('the next record published', () => (eventsOf(second.crawlId).length === 1 ? true : undefined));
    expect(eventsOf(first.crawlId)).toEqual([]);
  });

  it('after a read of the shard fails, goes on after the last record it gave: none given twice, none lost', async () => {
    const before = await newCrawl('https://h.example/');
    await engines.store.recordPage(before.crawlId, summary('https://h.example/', 'changed'), 0);
    await until('the record before the failure published', () => (eventsOf(before.crawlId).length === 1 ? true : undefined));

    failNextRead = true;
    const after = await newCrawl('https://i.example/');
    await engines.store.recordPage(after.crawlId, summary('https://i.example/', 'changed'), 0);
    await until('the failed read', () => (failNextRead ? undefined : true));
    await until('the record after the failure published', () => (eventsOf(after.crawlId).length === 1 ? true : undefined));

    expect(givenFor(before.crawlId).flat()).toHaveLength(1);
    expect(givenFor(after.crawlId).flat()).toHaveLength(1);
    expect(eventsOf(before.crawlId)).toHaveLength(1);
  });
});
