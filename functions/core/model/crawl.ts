/**
 * A crawl's options as recorded when it started, every default resolved. Crawls recorded before a field existed lack
 * it: readers take the field's default then (robotsTxt "obey", sitemap "skip", the deployment's hostDelayMs).
 */
export interface CrawlOptions {
  maxDepth: number;
  maxPages?: number;
  sameOrigin: boolean;
  include?: string[];
  exclude?: string[];
  robotsTxt?: 'obey' | 'ignore';
  sitemap?: 'skip' | 'include' | 'only';
  /** Least time between two request starts to one host, for this crawl. */
  hostDelayMs?: number;
}

export type CrawlSource = { kind: 'api' } | { kind: 'schedule'; name: string };

/** The events a crawl's webhook can be sent (the contract's Events and webhooks). */
export const WEBHOOK_EVENTS = ['crawl.completed', 'page.changed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Where a crawl's chosen events are POSTed. */
export interface Webhook {
  url: string;
  events: WebhookEvent[];
}

export type CrawlStatus = 'running' | 'completed' | 'cancelled';

/** A crawl as the store holds it: the job a request or a schedule started. */
export interface Crawl {
  crawlId: string;
  /**
   * `cancelled` once a DELETE was accepted, and for good: its URLs not yet fetched end as failed (CANCELLED), and
   * `completedAt` is set once every URL has ended, as for a completed crawl.
   */
  status: CrawlStatus;
  total: number;
  succeeded: number;
  failed: number;
  createdAt: string;
  completedAt?: string;
  /** When the cancel was accepted: set once, by the first DELETE. */
  cancelledAt?: string;
  options: CrawlOptions;
  source: CrawlSource;
  /** A label shown in listings, as the request gave it. */
  name?: string;
  webhook?: Webhook;
  /** A scheduled run not started because the schedule's previous run was still running: it has no URLs. */
  skipped?: { previousCrawlId: string };
}

/** A running crawl as the reconciler sees it: one not completed yet (a cancelled one until its URLs have ended). */
export interface RunningCrawl {
  crawlId: string;
  /** A cancelled crawl's lost URLs end as CANCELLED instead of being queued again. */
  cancelled?: boolean;
  /** When the crawl last counted or recorded a URL (or was last reconciled). */
  progressAt: string;
  pending: number;
  options: CrawlOptions;
}

/** A URL the crawl counted that has no outcome yet. */
export interface UnfinishedUrl {
  url: string;
  depth: number;
  /** Times the reconciler queued it again so far. */
  requeues: number;
  /** When a delivery last said it will be tried again, if one did. */
  retriedAt?: string;
}

/** Whether a write recorded a URL's outcome, or found it recorded before (a redelivered message): exactly once. */
export type RecordOutcome = 'recorded' | 'duplicate';
