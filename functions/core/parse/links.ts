/** A page's links as written, and its `<base href>`: resolved only when links are followed (resolveLinks). */
export interface PageLinks {
  hrefs: string[];
  baseHref: string | null;
  /** The page's `<meta name=robots>` says `nofollow` (or `none`): a crawler follows none of its links. */
  nofollow: boolean;
}

/**
 * The links a crawler may follow from a page: absolute http(s) URLs of its `a[href]` links, fragments removed,
 * resolved against the document's base; none when the page says `<meta name=robots content=nofollow>` (or `none`).
 * Only a page whose links are followed pays for this (a URL parse per link): most crawls have maxDepth 0.
 */
export function resolveLinks({ hrefs, baseHref, nofollow }: PageLinks, documentUrl: string): string[] {
  if (nofollow) return [];
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
