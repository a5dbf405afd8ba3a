import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type CrawlerEvent } from '../core/events/events.js';
import type { EventPublisher } from '../core/events/ports.js';
import { sendInBatches } from './batched-retries.js';

/** PutEvents' limit on one request: the sizes of its entries together must be less than 256 KB, or it is refused whole. */
export const MAX_PUT_EVENTS_BYTES = 256 * 1024 - 1;

/**
 * An entry's size as EventBridge counts it against that limit ("Calculating PutEvents event entry size"): 14 bytes
 * for a Time, the UTF-8 bytes of Source, DetailType, Detail and each resource. EventBusName does not count.
 */
export function putEventsEntrySize(entry: { Time?: unknown; Source?: string; DetailType?: string; Detail?: string; Resources?: string[] }): number {
  const utf8 = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  return (
    (entry.Time !== undefined ? 14 : 0) +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + utf8(resource), 0)
  );
}

export interface EventBusOptions {
  busName: string;
  client?: EventBridgeClient;
  /** Extra tries for entries EventBridge reported as failed (or a call that threw). */
  retries?: number;
  /** Told of an event over MAX_PUT_EVENTS_BYTES on its own: no request can hold it, so it is given back untried. */
  onTooLarge?: (event: CrawlerEvent, bytes: number) => void;
}

/** The crawler's events on an EventBridge bus: `source` serverless-crawler, the event's detail-type and detail. */
export class EventBridgePublisher implements EventPublisher {
  private readonly client: EventBridgeClient;

  constructor(private readonly options: EventBusOptions) {
    this.client = options.client ?? new EventBridgeClient({});
  }

  async publish(events: readonly CrawlerEvent[]): Promise<CrawlerEvent[]> {
    const entries = events.map((event) => {
      const entry = this.entry(event);
      return { event, entry, bytes: putEventsEntrySize(entry) };
    });
    const unsent = await sendInBatches(
      entries,
      this.options.retries ?? 3,
      async (batch) => {
        const out = await this.client.send(new PutEventsCommand({ Entries: batch.map(({ entry }) => entry) }));
        // Result entries are in request order; a failed one carries an ErrorCode (a missing one counts as failed).
        return new Set(batch.flatMap((_, i) => (out.Entries?.[i]?.EventId ? [] : [i])));
      },
      { max: MAX_PUT_EVENTS_BYTES, sizeOf: ({ bytes }) => bytes, onTooLarge: ({ event }, bytes) => this.options.onTooLarge?.(event, bytes) },
    );
    return unsent.map(({ event }) => event);
  }

  private entry(event: CrawlerEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.options.busName,
      Source: EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      Time: new Date(event.time),
    };
  }
}
