import { scanHtml, type ScannedPage } from './html-scan.js';
import type { PageFields } from './summary.js';
import { summarizeTree } from './tree-summary.js';

export interface ParsedPage {
  fields: PageFields;
  /** Absolute http(s) URLs of the page's `a[href]` links, fragments removed, resolved against the document's base. */
  outlinks: string[];
  /** Which parser produced the fields: the streaming pass, or the standard's tree builder when the pass gave up. */
  parser: 'stream' | 'tree';
}

/**
 * Computes the Summary's page fields of a decoded document as a browser with scripting off would, and its links.
 * `documentUrl` is the URL the document was fetched from, to resolve links.
 */
export async function summarize(html: string, documentUrl: string): Promise<ParsedPage> {
  const scanned = await scanHtml(html);
  const parser = 'needsTreeBuilder' in scanned ? 'tree' : 'stream';
  const page = 'needsTreeBuilder' in scanned ? await summarizeTree(html) : scanned;
  const { hrefs, baseHref, ...fields } = page;
  return { fields, outlinks: resolveLinks(page, documentUrl), parser };
}

function resolveLinks({ hrefs, baseHref }: ScannedPage, documentUrl: string): string[] {
  const base = baseHref !== null && URL.canParse(baseHref.trim(), documentUrl) ? new URL(baseHref.trim(), documentUrl).href : documentUrl;
  const outlinks = new Set<string>();
  for (const raw of hrefs) {
    const href = raw.trim();
    if (!URL.canParse(href, base)) continue;
    const target = new URL(href, base);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') continue;
    target.hash = '';
    outlinks.add(target.href);
  }
  return [...outlinks];
}
