import type { CrawlStatusView } from '../functions/core/read-crawls.js';
import type { CrawlRequestInput } from '../functions/core/crawl-request.js';
import type { Summary } from '../functions/core/summary.js';

export class ApiError extends Error {}

export interface SubmitResponse {
  crawlId: string;
  accepted: number;
  rejected: { url: string; reason: string }[];
  statusUrl: string;
}

/** The crawler's HTTP API, as the contract defines it. */
export class ApiClient {
  private readonly base: string;

  constructor(endpoint: string) {
    if (!URL.canParse(endpoint)) throw new ApiError(`--endpoint must be an absolute URL, not "${endpoint}"`);
    this.base = endpoint.replace(/\/+$/, '');
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      throw new ApiError(`cannot reach ${this.base}. Is the local stack running (npm start), or is --endpoint right?`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiError(`${method} ${path} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(`${error?.code ?? `HTTP_${res.status}`}: ${error?.message ?? 'request failed'}`);
    }
    return json as T;
  }

  submit(request: CrawlRequestInput): Promise<SubmitResponse> {
    return this.request('POST', '/crawls', request);
  }

  status(crawlId: string): Promise<CrawlStatusView> {
    return this.request('GET', `/crawls/${encodeURIComponent(crawlId)}`);
  }

  /** The crawl's pages, one API page at a time. */
  async *pages(crawlId: string, limit = 200): AsyncGenerator<Summary[]> {
    let cursor: string | null = null;
    do {
      const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: { items: Summary[]; cursor: string | null } = await this.request('GET', `/crawls/${encodeURIComponent(crawlId)}/pages${query}`);
      yield page.items;
      cursor = page.cursor;
    } while (cursor);
  }
}
