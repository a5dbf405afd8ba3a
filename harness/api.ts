import { setTimeout as sleep } from 'node:timers/promises';

/** The crawler's HTTP API as the tests and the bench call it: plain requests, answers as they came (status, JSON). */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
  // Bounded, so a request that never comes back fails with its own message instead of a test's or the bench's timeout.
  const init: RequestInit = {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    signal: AbortSignal.timeout(30_000),
  };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** Polls GET /crawls/{id} until it is completed, or fails after `timeoutMs`. */
export async function waitForCompletion(base: string, crawlId: string, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(base, 'GET', `/crawls/${crawlId}`);
    if (body.status === 'completed') return body;
    if (Date.now() > deadline) throw new Error(`crawl ${crawlId} not completed in ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await sleep(200);
  }
}

/** Every item of GET /crawls/{id}/pages, following cursors. */
export async function allPages(base: string, crawlId: string, limit = 50): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  for (let calls = 0; calls < 1_000; calls++) {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const { status, body } = await call(base, 'GET', `/crawls/${crawlId}/pages${query}`);
    if (status !== 200) throw new Error(`pages returned ${status}: ${JSON.stringify(body)}`);
    if (body.items.length > limit) throw new Error(`pages returned ${body.items.length} items for limit=${limit}`);
    items.push(...body.items);
    cursor = body.cursor;
    if (!cursor) return items;
  }
  throw new Error('pagination did not end');
}
