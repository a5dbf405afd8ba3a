import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer, type LoopbackServer } from './loopback-server.js';

/** Requested by the harness itself, never recorded. */
export const WARM_UP_PATH = '/__warm-up';

/** One request as the site saw it. */
export interface SiteRequest {
  path: string;
  /** Epoch ms, fractional: when the request's headers were in. */
  at: number;
  /** Requests in flight at the site when it arrived, itself included. */
  inFlight: number;
  userAgent: string | undefined;
}

export interface PoliteSiteOptions {
  /** robots.txt: its body (served 200 text/plain), or an answer per request; none answers 404. */
  robots?: string | ((n: number) => { status: number; body?: string; headers?: Record<string, string> });
  /** Extra answers before the pages: a status and body for a path, or undefined to serve the page. */
  answer?: (path: string, n: number) => { status: number; body?: string; headers?: Record<string, string> } | undefined;
  /** Milliseconds each page takes to answer. */
  latencyMs?: number;
  /** Told of each request as it is recorded. */
  onRequest?: (request: SiteRequest) => void;
}

/** A site that records its requests, in this process or another (polite-site-process.ts). */
export interface RecordingSite {
  url: string;
  close(): Promise<void>;
  requests: SiteRequest[];
  /** Requests for these paths (all when none given). */
  of(filter?: (path: string) => boolean): SiteRequest[];
  /** Start-to-start gaps in ms between consecutive requests (all, or those the filter keeps), in arrival order. */
  gaps(filter?: (path: string) => boolean): number[];
  /** Resolves once every request the site has seen so far is in `requests` (a site in a process of its own reports them). */
  sync(): Promise<void>;
}

export type PoliteSite = RecordingSite & LoopbackServer;

/**
 * A loopback site for politeness tests and benches: /robots.txt as given, every other path an HTML page linking to
 * `?links=` paths (comma-separated) or to nothing. It records every request with its arrival time, measured here at
 * the server, and the number in flight.
 */
export async function startPoliteSite(options: PoliteSiteOptions = {}): Promise<PoliteSite> {
  const requests: SiteRequest[] = [];
  let inFlight = 0;
  let robotsHits = 0;
  const counts = new Map<string, number>();
  const server = await startLoopbackServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.timeOrigin + performance.now();
    const url = new URL(req.url!, 'http://x');
    // Not a request of the crawler's: a warm-up, so that the site's own first request is not what a test measures.
    if (url.pathname === WARM_UP_PATH) return void res.writeHead(204).end();
    inFlight++;
    res.on('close', () => inFlight--);
    const record = { path: url.pathname + url.search, at, inFlight, userAgent: req.headers['user-agent'] };
    requests.push(record);
    options.onRequest?.(record);
    const n = (counts.get(url.pathname) ?? 0) + 1;
    counts.set(url.pathname, n);
    const send = (answer: { status: number; body?: string; headers?: Record<string, string> }, type: string) => {
      const body = answer.body ?? '';
      const reply = () => !res.destroyed && res.writeHead(answer.status, { 'content-type': type, ...answer.headers }).end(body);
      if (options.latencyMs) setTimeout(reply, options.latencyMs);
      else reply();
    };
    if (url.pathname === '/robots.txt') {
      robotsHits++;
      const robots = options.robots;
      if (robots === undefined) return send({ status: 404, body: 'no robots.txt' }, 'text/plain');
      return send(typeof robots === 'string' ? { status: 200, body: robots } : robots(robotsHits), 'text/plain');
    }
    const special = options.answer?.(url.pathname, n);
    if (special) return send(special, 'text/html; charset=utf-8');
    const links = (url.searchParams.get('links') ?? '').split(',').filter(Boolean);
    const html = `<!doctype html><html><head><title>${url.pathname}</title></head><body>${links.map((l) => `<a href="${l}">${l}</a>`).join('')}</body></html>`;
    return send({ status: 200, body: html }, 'text/html; charset=utf-8');
  });
  return Object.assign(server, recorder(requests));
}

/** The reading side of a site's record of requests. */
export function recorder(requests: SiteRequest[], sync: () => Promise<void> = async () => undefined) {
  const keep = (filter?: (path: string) => boolean) => requests.filter((r) => !filter || filter(r.path));
  return {
    requests,
    of: keep,
    gaps: (filter?: (path: string) => boolean) => {
      const times = keep(filter).map((r) => r.at);
      return times.slice(1).map((t, i) => t - times[i]!);
    },
    sync,
  };
}

/** A page of a link graph: `links[path]` as <a href>s (none for a path it does not name). */
export function linkPage(links: Readonly<Record<string, readonly string[]>>) {
  return (path: string) => ({
    status: 200,
    body: `<!doctype html><title>${path}</title>${(links[path] ?? []).map((l) => `<a href="${l}">${l}</a>`).join('')}`,
  });
}
