/** The contract's Summary: one per crawled URL. */
export interface Summary {
  url: string;
  finalUrl: string;
  status: number | null;
  ok: boolean;
  contentType: string | null;
  charset: string | null;
  title: string;
  lang: string | null;
  description: string | null;
  canonical: string | null;
  h1: number;
  links: number;
  images: number;
  bytes: number;
  durationMs: number;
  fetchedAt: string;
  contentHash: string | null;
  /**
   * SHA-256 (hex) of the page's text: its <body>'s text outside <script>, <style>, <template> and comments, ASCII
   * whitespace collapsed and trimmed (parse/). Null when `ok` is false.
   */
  textHash: string | null;
  error?: { code: string; message: string };
  /** Link hops from a seed (0 for seeds and sitemap URLs). This and what follows are set when a crawl records the page. */
  depth?: number;
  /** Against the latest earlier summary of the same URL from any crawl of the deployment (crawl/change.ts). */
  change?: Change;
  /** Which fields differ from that summary; [] unless `change` is "changed". */
  changedFields?: ChangedField[];
  /** That summary, null when `change` is "new". */
  previous?: PreviousSummary | null;
}

export type Change = 'new' | 'same' | 'changed';

/** The fields change detection compares, in the contract's order; `text` is compared by textHash. */
export const CHANGE_FIELDS = ['status', 'ok', 'title', 'lang', 'description', 'canonical', 'h1', 'links', 'images', 'text'] as const;
export type ChangedField = (typeof CHANGE_FIELDS)[number];

export interface PreviousSummary {
  crawlId: string;
  fetchedAt: string;
  contentHash: string | null;
}

/** The fields a page's markup decides; the rest come from the fetch. */
export type PageFields = Pick<Summary, 'title' | 'lang' | 'description' | 'canonical' | 'h1' | 'links' | 'images'>;

export const EMPTY_PAGE_FIELDS: PageFields = {
  title: '',
  lang: null,
  description: null,
  canonical: null,
  h1: 0,
  links: 0,
  images: 0,
};

/** The Summary of a URL that gave no parsed page: nothing counted, `ok: false`, and the reason. */
export function failedSummary(at: {
  url: string;
  fetchedAt: string;
  error: { code: string; message: string };
  finalUrl?: string;
  status?: number | null;
  contentType?: string | null;
  bytes?: number;
  durationMs?: number;
}): Summary {
  return {
    url: at.url,
    finalUrl: at.finalUrl ?? at.url,
    status: at.status ?? null,
    ok: false,
    contentType: at.contentType ?? null,
    charset: null,
    ...EMPTY_PAGE_FIELDS,
    bytes: at.bytes ?? 0,
    durationMs: at.durationMs ?? 0,
    fetchedAt: at.fetchedAt,
    contentHash: null,
    textHash: null,
    error: at.error,
  };
}

export const SUMMARY_KEYS = [
  'url', 'finalUrl', 'status', 'ok', 'contentType', 'charset', 'title', 'lang', 'description', 'canonical',
  'h1', 'links', 'images', 'bytes', 'durationMs', 'fetchedAt', 'contentHash', 'textHash', 'error',
  'depth', 'change', 'changedFields', 'previous',
] as const satisfies readonly (keyof Summary)[];

/** Picks exactly the Summary's fields from a stored record, dropping storage keys and bookkeeping. */
export function toSummary(record: Record<string, unknown>): Summary {
  const out: Record<string, unknown> = {};
  for (const key of SUMMARY_KEYS) if (record[key] !== undefined) out[key] = record[key];
  return out as unknown as Summary;
}

/** The summary of a URL that was counted in a crawl but could not be put on the queue. */
export function enqueueFailed(url: string, fetchedAt: string): Summary {
  return failedSummary({ url, fetchedAt, error: { code: 'ENQUEUE_FAILED', message: 'the URL could not be queued' } });
}
