import { load } from 'cheerio';
import type { PageFields } from './summary.js';

/** ASCII whitespace as the HTML standard defines it, for `document.title`'s "strip and collapse". */
const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;
const collapse = (text: string) => text.replace(ASCII_WHITESPACE, ' ').replace(/^ | $/g, '');

export interface ParsedPage {
  fields: PageFields;
  /** Absolute http(s) URLs of the page's `a[href]` links, fragments removed, resolved against the document's base. */
  outlinks: string[];
}

/**
 * Parses a decoded document as a browser with scripting off would (so `<noscript>` holds markup) and computes the
 * Summary's page fields. `documentUrl` is the URL the document was fetched from, to resolve links.
 */
export function summarize(html: string, documentUrl: string): ParsedPage {
  const $ = load(html, { scriptingEnabled: false });

  const description = $('meta[name]')
    .filter((_, el) => ($(el).attr('name') ?? '').trim().toLowerCase() === 'description')
    .first();
  const canonical = $('link[rel]')
    .filter((_, el) => ($(el).attr('rel') ?? '').toLowerCase().split(/[\t\n\f\r ]+/).includes('canonical'))
    .first();

  const anchors = $('a[href]');
  const fields: PageFields = {
    title: collapse($('title').first().text()),
    lang: $('html').attr('lang') ?? null,
    description: description.length ? (description.attr('content') ?? '').trim() : null,
    canonical: canonical.length ? (canonical.attr('href') ?? '').trim() : null,
    h1: $('h1').length,
    links: anchors.length,
    images: $('img').length,
  };

  const baseHref = $('base[href]').first().attr('href');
  const base = baseHref !== undefined && URL.canParse(baseHref.trim(), documentUrl) ? new URL(baseHref.trim(), documentUrl).href : documentUrl;
  const outlinks = new Set<string>();
  anchors.each((_, el) => {
    const href = ($(el).attr('href') ?? '').trim();
    if (!URL.canParse(href, base)) return;
    const target = new URL(href, base);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return;
    target.hash = '';
    outlinks.add(target.href);
  });
  return { fields, outlinks: [...outlinks] };
}
