import type { CrawlStatusView } from '../functions/core/crawl/read-crawls.js';
import { SUMMARY_KEYS, type Summary } from '../functions/core/model/summary.js';

const kb = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`);

export function formatSummaryLine(s: Summary, color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  if (s.ok) {
    return `${paint(32, '✓')} ${s.status} ${s.url}  "${s.title}"  ${s.links} links, ${s.images} images, ${s.h1} h1, ${kb(s.bytes)}, ${s.durationMs} ms`;
  }
  return `${paint(31, '✗')} ${s.error?.code ?? 'FAILED'} ${s.url}  ${s.error?.message ?? ''}`;
}

/**
 * The Summary's fields in the contract's order, its objects flattened: `error` as errorCode and errorMessage,
 * `previous` as previousCrawlId, previousFetchedAt and previousContentHash; changedFields space-separated.
 */
export const CSV_COLUMNS = SUMMARY_KEYS.flatMap((key) =>
  key === 'error' ? (['errorCode', 'errorMessage'] as const)
  : key === 'previous' ? (['previousCrawlId', 'previousFetchedAt', 'previousContentHash'] as const)
  : [key],
);

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV; the header only with the first chunk. */
export function toCsv(items: Summary[], withHeader: boolean): string {
  const rows = items.map((s) => {
    const record: Record<string, unknown> = {
      ...s,
      errorCode: s.error?.code,
      errorMessage: s.error?.message,
      changedFields: s.changedFields?.join(' '),
      previousCrawlId: s.previous?.crawlId,
      previousFetchedAt: s.previous?.fetchedAt,
      previousContentHash: s.previous?.contentHash,
    };
    return CSV_COLUMNS.map((c) => csvCell(record[c])).join(',');
  });
  return `${withHeader ? `${CSV_COLUMNS.join(',')}\r\n` : ''}${rows.map((r) => `${r}\r\n`).join('')}`;
}

const truncate = (text: string, width: number) => (text.length <= width ? text.padEnd(width) : `${text.slice(0, width - 1)}…`);

/** A fixed-width table for terminals; fixed widths let it stream page by page. */
export function toTable(items: Summary[], withHeader: boolean): string {
  const line = (status: string, url: string, title: string, links: string) =>
    `${truncate(status, 16)} ${truncate(url, 60)} ${truncate(title, 40)} ${links.padStart(6)}`;
  const header = withHeader ? `${line('STATUS', 'URL', 'TITLE', 'LINKS')}\n` : '';
  return header + items.map((s) => `${line(s.ok ? String(s.status) : (s.error?.code ?? 'FAILED'), s.url, s.title, String(s.links))}\n`).join('');
}

/** Crawls as fixed-width rows for a terminal: newest first, as GET /crawls lists them. */
export function toCrawlTable(items: CrawlStatusView[], withHeader: boolean): string {
  const line = (id: string, status: string, progress: string, created: string, label: string) =>
    `${truncate(id, 26)} ${truncate(status, 9)} ${progress.padStart(15)} ${truncate(created, 20)} ${label}`;
  const header = withHeader ? `${line('CRAWL', 'STATUS', 'ENDED/TOTAL', 'CREATED', 'NAME / SCHEDULE')}\n` : '';
  const label = (c: CrawlStatusView) => [c.name, c.schedule !== undefined ? `(schedule ${c.schedule})` : undefined].filter(Boolean).join(' ');
  return header + items.map((c) => `${line(c.crawlId, c.status, `${c.succeeded + c.failed}/${c.total}`, c.createdAt.slice(0, 19) + 'Z', label(c))}\n`).join('');
}
