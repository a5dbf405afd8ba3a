import { CHANGE_FIELDS, type Change, type ChangedField, type PreviousSummary, type Summary } from '../model/summary.js';

// Change detection: each fetched page against the latest earlier summary of the same URL, from any crawl of the
// deployment. What is compared is what a person reads — the page's fields and its text (textHash) — never
// contentHash, which differs with every nonce, timestamp or CSRF token in the markup.

/** What a page is compared with: the earlier summary's compared fields and where it came from. */
export interface ChangeBase {
  previous: PreviousSummary;
  fields: Pick<Summary, Exclude<ChangedField, 'text'>> & { textHash?: string | null };
}

/** The URL's latest summary as the store keeps it, with the base it was itself compared with. */
export interface LatestSummary {
  crawlId: string;
  summary: Summary;
  /** The base this summary was compared with when it was recorded (null: it was new). */
  base: ChangeBase | null;
}

export type ChangeFields = Required<Pick<Summary, 'change' | 'changedFields' | 'previous'>>;

/** A summary as the base for the next crawl's comparison. */
export function baseOf(crawlId: string, summary: Summary): ChangeBase {
  const { status, ok, title, lang, description, canonical, h1, links, images, textHash } = summary;
  return {
    previous: { crawlId, fetchedAt: summary.fetchedAt, contentHash: summary.contentHash },
    fields: { status, ok, title, lang, description, canonical, h1, links, images, ...(textHash !== undefined ? { textHash } : {}) },
  };
}

/**
 * The base for a page of `crawlId`: the URL's latest summary, unless that summary is this crawl's own (an earlier
 * delivery of the same message wrote it before it could record the page): then the base that one was compared with,
 * so a redelivery compares with the same earlier summary and not with itself.
 */
export function baseFor(crawlId: string, latest: LatestSummary | null): ChangeBase | null {
  if (!latest) return null;
  return latest.crawlId === crawlId ? latest.base : baseOf(latest.crawlId, latest.summary);
}

/**
 * How `summary` differs from `base`: "new" without one; else the compared fields that differ, `text` by textHash (a
 * base recorded before pages had a textHash is not compared on text).
 */
export function compareWith(summary: Summary, base: ChangeBase | null): ChangeFields {
  if (!base) return { change: 'new', changedFields: [], previous: null };
  const changedFields = CHANGE_FIELDS.filter((field) => {
    if (field === 'text') return base.fields.textHash !== undefined && base.fields.textHash !== summary.textHash;
    return base.fields[field] !== summary[field];
  });
  const change: Change = changedFields.length > 0 ? 'changed' : 'same';
  return { change, changedFields, previous: base.previous };
}
