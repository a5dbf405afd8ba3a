/** A page's links as written, and its `<base href>`: resolved only when links are followed (resolveLinks). */
export interface PageLinks {
  hrefs: string[];
  baseHref: string | null;
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
