import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type CrawlerEvent } from '../core/events/events.js';
import type { EventPublisher } from '../core/events/ports.js';
import { sendInBatches } from './batched-retries.js';

export interface EventBusOptions {
  busName: string;
  client?: EventBridgeClient;
  /** Extra tries for entries EventBridge reported as failed (or a call that threw). */
  retries?: number;
}

/** The crawler's events on an EventBridge bus: `source` serverless-crawler, the event's detail-type and detail. */
export class EventBridgePublisher implements EventPublisher {
  private readonly client: EventBridgeClient;

  constructor(private readonly options: EventBusOptions) {
    this.client = options.client ?? new EventBridgeClient({});
  }

  publish(events: readonly CrawlerEvent[]): Promise<CrawlerEvent[]> {
    return sendInBatches(events, this.options.retries ?? 3, async (batch) => {
      const out = await this.client.send(new PutEventsCommand({ Entries: batch.map((event) => this.entry(event)) }));
      // Result entries are in request order; a failed one carries an ErrorCode (a missing one counts as failed).
      return new Set(batch.flatMap((_, i) => (out.Entries?.[i]?.EventId ? [] : [i])));
    });
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
