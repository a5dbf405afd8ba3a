import type { CrawlStatusView } from '../functions/core/crawl/read-crawls.js';
import type { CrawlRequestInput } from '../functions/core/model/crawl-request.js';
import type { Change, Summary } from '../functions/core/model/summary.js';

export class ApiError extends Error {}

export interface SubmitResponse {
  crawlId: string;
  accepted: number;
  rejected: { url: string; reason: string }[];
  statusUrl: string;
  /** Accepted URLs the API could not put on the queue, even after retries: recorded as failed (ENQUEUE_FAILED). Absent when 0. */
  unqueued?: number;
}

/** Turns a request into a signed one: the headers to send. */
export type Signer = (request: { method: string; url: URL; headers: Record<string, string>; body?: string }) => Promise<Record<string, string>>;

/**
 * SigV4 for API Gateway (`execute-api`) with the SDK's own signer and the standard credential chain (environment,
 * SSO, shared config and credentials files, container and instance roles). Loaded only when a request is signed.
 */
export async function sigv4Signer(region: string): Promise<Signer> {
  const [{ SignatureV4 }, { Hash }, { defaultProvider }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@smithy/hash-node'),
    import('@aws-sdk/credential-provider-node'),
  ]);
  const credentials = defaultProvider();
  const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true });
  return async ({ method, url, headers, body }) => {
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    try {
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        ...(body !== undefined ? { body } : {}),
      });
      const { host: _host, ...rest } = signed.headers as Record<string, string>;
      return rest;
    } catch (err) {
      throw new ApiError(`cannot sign the request: no usable AWS credentials (${(err as Error).message}). Set AWS_PROFILE, or run aws sso login`);
    }
  };
}

/** The crawler's HTTP API, as the contract defines it. */
export class ApiClient {
  private readonly base: string;

  constructor(
    endpoint: string,
    private readonly signer?: Signer,
  ) {
    if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
      throw new ApiError(`the endpoint must be an absolute http(s) URL, not "${endpoint}"`);
    }
    this.base = endpoint.replace(/\/+$/, '');
  }

  /** `signal` cancels the request (the caller stopped waiting for it); it is bounded by 30 s either way. */
  private async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const url = new URL(`${this.base}${path}`);
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = { accept: 'application/json', ...(text === undefined ? {} : { 'content-type': 'application/json' }) };
    if (this.signer) headers = await this.signer({ method, url, headers, ...(text === undefined ? {} : { body: text }) });
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(text === undefined ? {} : { body: text }), signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000) });
    } catch {
      throw new ApiError(`cannot reach ${this.base}. Is the local stack running (npm start), or is the endpoint right?`);
    }
    const raw = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new ApiError(`${method} ${path} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string; rejected?: { url: string; reason: string }[] }; message?: string }).error;
      // API Gateway's own IAM refusals carry {"message": …} unless the gateway responses are ours.
      const message = error?.message ?? (json as { message?: string }).message ?? 'request failed';
      // NO_VALID_URLS says why each URL was refused: a user needs that more than the summary.
      const reasons = (error?.rejected ?? []).map((r) => `\n  rejected ${r.url}: ${r.reason}`).join('');
      throw new ApiError(`${error?.code ?? `HTTP_${res.status}`}: ${message}${reasons}`);
    }
    return json as T;
  }

  submit(request: CrawlRequestInput): Promise<SubmitResponse> {
    return this.request('POST', '/crawls', request);
  }

  status(crawlId: string, signal?: AbortSignal): Promise<CrawlStatusView> {
    return this.request('GET', `/crawls/${encodeURIComponent(crawlId)}`, undefined, signal);
  }

  /** DELETE /crawls/{id}: the crawl, cancelled. */
  cancel(crawlId: string): Promise<CrawlStatusView> {
    return this.request('DELETE', `/crawls/${encodeURIComponent(crawlId)}`);
  }

  /**
   * The crawl's pages (only those with this `change`, when given), one API page at a time, so nothing more than one
   * page of results is held.
   */
  pages(crawlId: string, options: { limit?: number; change?: Change | undefined } = {}): AsyncGenerator<Summary[]> {
    const filter = options.change ? `&change=${options.change}` : '';
    return this.paged(`/crawls/${encodeURIComponent(crawlId)}/pages`, `limit=${options.limit ?? 200}${filter}`);
  }

  /** GET /crawls: crawls newest first (a schedule's runs only, when given), one API page at a time. */
  crawls(options: { limit?: number; schedule?: string | undefined } = {}): AsyncGenerator<CrawlStatusView[]> {
    const filter = options.schedule !== undefined ? `&schedule=${encodeURIComponent(options.schedule)}` : '';
    return this.paged('/crawls', `limit=${options.limit ?? 100}${filter}`);
  }

  private async *paged<T>(path: string, query: string): AsyncGenerator<T[]> {
    let cursor: string | null = null;
    do {
      const page: { items: T[]; cursor: string | null } = await this.request('GET', `${path}?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      yield page.items;
      cursor = page.cursor;
    } while (cursor);
  }
}
