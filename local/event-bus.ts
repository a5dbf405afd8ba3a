import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_PUT_EVENTS_BYTES, putEventsEntrySize } from '../functions/adapters/event-bus.js';

/** An event as a PutEvents entry gave it, with the id the bus answered. */
export interface ReceivedEvent {
  id: string;
  eventBusName: string;
  source: string;
  detailType: string;
  detail: unknown;
  time: string;
}

export interface RunningEventBus {
  endpoint: string;
  /** Every event put so far, in order. */
  readonly events: readonly ReceivedEvent[];
  stop(): Promise<void>;
}

const TARGET = 'AWSEvents.PutEvents';
const MAX_ENTRIES = 10;

interface PutEventsEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Time?: number;
}

/**
 * EventBridge's stand-in for the local stack: PutEvents only, in AWS JSON 1.1 (`X-Amz-Target: AWSEvents.PutEvents`),
 * so the functions' EventBridge client works unchanged with AWS_ENDPOINT_URL_EVENTBRIDGE pointing here. It checks what
 * EventBridge checks of a request (1 to 10 entries, under 256 KB in all, so a local run meets an oversized batch as AWS
 * would) and of an entry (source, detail-type, a JSON object as detail, the default bus), records each event and tells
 * `onEvent`; it routes nothing (no rules: the local stack's webhooks go through the delivery queue, as on AWS).
 */
export async function startEventBus(options: { onEvent?: (event: ReceivedEvent) => void } = {}): Promise<RunningEventBus> {
  const events: ReceivedEvent[] = [];
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => answer(res, 500, { __type: 'InternalException', message: (err as Error).message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.headers['x-amz-target'] !== TARGET) {
      return answer(res, 400, { __type: 'UnknownOperationException', message: `only ${TARGET} is served here, not ${String(req.headers['x-amz-target'])}` });
    }
    let body: { Entries?: PutEventsEntry[] };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return answer(res, 400, { __type: 'SerializationException', message: 'the body is not JSON' });
    }
    const entries = body.Entries ?? [];
    if (entries.length < 1 || entries.length > MAX_ENTRIES) {
      return answer(res, 400, { __type: 'ValidationException', message: `Entries must hold 1 to ${MAX_ENTRIES} entries, not ${entries.length}` });
    }
    if (entries.reduce((sum, entry) => sum + putEventsEntrySize(entry), 0) > MAX_PUT_EVENTS_BYTES) {
      return answer(res, 400, { __type: 'ValidationException', message: 'Total size of the entries in the request is over the limit.' });
    }
    const results = entries.map((entry) => {
      const problem = problemOf(entry);
      if (problem) return { ErrorCode: problem.code, ErrorMessage: problem.message };
      const event: ReceivedEvent = {
        id: randomUUID(),
        eventBusName: entry.EventBusName ?? 'default',
        source: entry.Source!,
        detailType: entry.DetailType!,
        detail: JSON.parse(entry.Detail!),
        // The SDK sends Time in epoch seconds.
        time: new Date(entry.Time !== undefined ? entry.Time * 1000 : Date.now()).toISOString(),
      };
      events.push(event);
      options.onEvent?.(event);
      return { EventId: event.id };
    });
    answer(res, 200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function problemOf(entry: PutEventsEntry): { code: string; message: string } | undefined {
  if (!entry.Source || !entry.DetailType) return { code: 'InvalidArgument', message: 'Parameters Source and DetailType are required' };
  if ((entry.EventBusName ?? 'default') !== 'default') return { code: 'ResourceNotFoundException', message: `Event bus ${entry.EventBusName} does not exist` };
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail ?? '');
  } catch {
    return { code: 'MalformedDetail', message: 'Detail is malformed' };
  }
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) return { code: 'MalformedDetail', message: 'Detail must be a JSON object' };
  return undefined;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
}
