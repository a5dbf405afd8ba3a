import { load } from 'cheerio';
import type { PageFields } from '../functions/core/model/summary.js';

/**
 * The baseline the engine is measured against: cheerio's default `load` (parse5, scripting off) and the Summary's
 * fields read with selectors, as the first version of this crawler did (and as a cheerio tutorial would).
 */
export function cheerioDefaultSummary(html: string): PageFields {
  const $ = load(html, { scriptingEnabled: false });
  const description = $('meta[name]').filter((_, el) => ($(el).attr('name') ?? '').toLowerCase() === 'description').first();
  const canonical = $('link[rel]').filter((_, el) => ($(el).attr('rel') ?? '').toLowerCase().split(/\s+/).includes('canonical')).first();
  return {
    title: $('title').first().text().replace(/[\t\n\f\r ]+/g, ' ').trim(),
    lang: $('html').attr('lang') ?? null,
    description: description.length ? (description.attr('content') ?? '').trim() : null,
    canonical: canonical.length ? (canonical.attr('href') ?? '').trim() : null,
    h1: $('h1').length,
    links: $('a[href]').length,
    images: $('img').length,
  };
}
