import { scanHtml } from './html-scan.js';
import type { PageFields } from './summary.js';
import { summarizeTree } from './tree-summary.js';

/** A page's links as written, and its `<base href>`: resolved only when links are followed (resolveLinks). */
export interface PageLinks {
  hrefs: string[];
  baseHref: string | null;
}

export interface ParsedPage {
  fields: PageFields;
  links: PageLinks;
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
  return { fields, links: { hrefs, baseHref }, parser };
}

/**
 * Absolute http(s) URLs of a page's `a[href]` links, fragments removed, resolved against the document's base. Only a
 * page whose links are followed pays for this (a URL parse per link): most crawls have maxDepth 0.
 */
export function resolveLinks({ hrefs, baseHref }: PageLinks, documentUrl: string): string[] {
  const base = (baseHref !== null && URL.parse(baseHref.trim(), documentUrl)?.href) || documentUrl;
  const outlinks = new Set<string>();
  for (const raw of hrefs) {
    const target = URL.parse(raw.trim(), base);
    if (target === null || (target.protocol !== 'http:' && target.protocol !== 'https:')) continue;
    target.hash = '';
    outlinks.add(target.href);
  }
  return [...outlinks];
}
