import { load } from 'cheerio/slim';
import type { Element } from 'domhandler';
import { Parser } from 'parse5';
import { adapter } from 'parse5-htmlparser2-tree-adapter';
import { collapseWhitespace, inSlices, relHasCanonical, type ScannedPage } from './html-scan.js';

const HTML_NS = 'http://www.w3.org/1999/xhtml';

/** The content of a `<template>` is a document fragment under it, which cheerio's `parents()` does not climb out of. */
function insideTemplate(el: Element): boolean {
  for (let node = el.parent; node; node = node.parent) if ((node as Element).name === 'template') return true;
  return false;
}

/**
 * The slow path, for the pages `scanHtml` hands back: parse5 runs the HTML standard's tree construction (scripting
 * off, so `<noscript>` holds markup), and cheerio queries the tree. Template contents hang under their `<template>`
 * here, but are not part of a browser's document, so every query skips them.
 */
export async function summarizeTree(html: string): Promise<ScannedPage> {
  const parser = new Parser({ treeAdapter: adapter, scriptingEnabled: false });
  await inSlices(html, (slice, last) => parser.tokenizer.write(slice, last));
  const $ = load(parser.document);
  const inDocument = (_: number, el: Element) => !insideTemplate(el);
  const all = (selector: string) => $<Element, string>(selector).filter(inDocument);
  const first = (selector: string, test: (el: Element) => boolean = () => true) => all(selector).filter((_, el) => test(el)).first();

  const title = first('title', (el) => el.namespace === HTML_NS);
  const root = $.root().children('html').first();
  const description = first('meta[name]', (el) => el.attribs.name!.toLowerCase() === 'description');
  const canonical = first('link[rel]', (el) => relHasCanonical(el.attribs.rel!));
  const base = first('base[href]');
  // parse5 files SVG's `xlink:href` under the local name `href`; a browser's `[href]` matches no namespaced attribute.
  const anchors = all('a[href]').filter((_, el) => !el['x-attribsNamespace']?.href);
  return {
    title: title.length ? collapseWhitespace(title.text()) : '',
    lang: root.attr('lang') ?? null,
    description: description.length ? (description.attr('content') ?? '').trim() : null,
    canonical: canonical.length ? (canonical.attr('href') ?? '').trim() : null,
    h1: all('h1').length,
    links: anchors.length,
    images: all('img').length,
    hrefs: anchors.toArray().map((el) => el.attribs.href!),
    baseHref: base.length ? base.attr('href')! : null,
  };
}
