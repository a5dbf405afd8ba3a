import { defaultTreeAdapter, Parser, type DefaultTreeAdapterMap } from 'parse5';
import { collapseWhitespace, inSlices, relHasCanonical, robotsSayNofollow, type PageScan } from './streaming-pass.js';
import { TextHash } from './text-hash.js';

type ChildNode = DefaultTreeAdapterMap['childNode'];
type Element = DefaultTreeAdapterMap['element'];
type ParentNode = DefaultTreeAdapterMap['parentNode'];

const HTML_NS = 'http://www.w3.org/1999/xhtml';

const isElement = (node: ChildNode): node is Element => 'tagName' in node;

/**
 * The element's attribute of this local name: the last of the name, as htmlparser2's node shapes (used here before)
 * kept them. Only in SVG/MathML can two share one, a namespaced attribute (`xlink:href`, with `namespace` set) and a
 * plain one (`href`); the tokenizer keeps just the first of any other name.
 */
function attribute(el: Element, name: string): { value: string; namespace?: string } | undefined {
  const { attrs } = el;
  for (let i = attrs.length - 1; i >= 0; i--) if (attrs[i]!.name === name) return attrs[i];
  return undefined;
}
const attributeValue = (el: Element, name: string): string | undefined => attribute(el, name)?.value;

/**
 * The document's elements in tree order, without the content of `<template>` elements: a browser keeps that in a
 * separate document fragment, so no query of the document sees it (parse5 keeps an HTML template's there too, and
 * the children of a template in SVG/MathML are left out all the same). Walked with a stack of its own: nested
 * generators would hand each element up through every level above it, and a page may nest very deep.
 */
function* elements(parent: ParentNode): Generator<Element> {
  const pending: ChildNode[] = [...parent.childNodes].reverse();
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (!isElement(node)) continue;
    yield node;
    if (node.tagName !== 'template') for (let i = node.childNodes.length - 1; i >= 0; i--) pending.push(node.childNodes[i]!);
  }
}

/** Text content: every descendant text node, in order (a `<title>` only ever holds text in HTML). */
function textOf(el: Element): string {
  let text = '';
  for (const child of el.childNodes) {
    if (defaultTreeAdapter.isTextNode(child)) text += child.value;
    else if (isElement(child)) text += textOf(child);
  }
  return text;
}

/** What `querySelectorAll('script, style, template')` finds, in any namespace, and the page's text leaves out. */
const NOT_TEXT = new Set(['script', 'style', 'template']);

/**
 * The hash of `document.body`'s text: its text nodes in tree order, outside script, style and template elements.
 * `document.body` is the `<html>` element's first `<body>` or `<frameset>` child; with none (the parser always makes
 * one, but a tree could lack it) the text is empty. Walked with a stack of its own: a page may nest very deep.
 */
function bodyTextHash(root: Element | undefined): string {
  const text = new TextHash();
  const body = root?.childNodes.find((node): node is Element => isElement(node) && (node.tagName === 'body' || node.tagName === 'frameset') && node.namespaceURI === HTML_NS);
  const pending: ChildNode[] = body ? [...body.childNodes].reverse() : [];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (defaultTreeAdapter.isTextNode(node)) text.add(node.value);
    else if (isElement(node) && !NOT_TEXT.has(node.tagName)) for (let i = node.childNodes.length - 1; i >= 0; i--) pending.push(node.childNodes[i]!);
  }
  return text.digest();
}

/**
 * The slow path, for the pages `scanHtml` hands back: parse5 runs the HTML standard's tree construction (scripting
 * off, so `<noscript>` holds markup) into its own node shapes, and one walk of the tree reads the fields. No
 * selector engine: the fields are simple enough, and the consumer's bundle stays small. parse5's own shapes, not
 * htmlparser2's, which copy each element's attributes into three objects and list them anew whenever the parser asks:
 * measured, the corpus pages that need this path parse 10-15% faster, and a crawl of the bench's 2,000 pages moves a
 * quarter less to V8's old generation (these pages' trees outlive young-generation collections).
 */
export async function scanTree(html: string): Promise<PageScan> {
  const parser = new Parser({ treeAdapter: defaultTreeAdapter, scriptingEnabled: false });
  await inSlices(html, (slice, last) => parser.tokenizer.write(slice, last));
  const document = parser.document;

  let title: Element | undefined;
  let description: Element | undefined;
  let canonical: Element | undefined;
  let baseHref: string | null = null;
  let nofollow = false;
  let h1 = 0;
  let images = 0;
  const hrefs: string[] = [];
  for (const el of elements(document)) {
    switch (el.tagName) {
      case 'title':
        if (el.namespaceURI === HTML_NS) title ??= el;
        break;
      case 'meta': {
        const name = attributeValue(el, 'name');
        if (name === undefined) break;
        const content = attributeValue(el, 'content');
        if (name.toLowerCase() === 'description') description ??= el;
        else if (name.toLowerCase() === 'robots' && content !== undefined && robotsSayNofollow(content)) nofollow = true;
        break;
      }
      case 'link': {
        const rel = attributeValue(el, 'rel');
        if (rel !== undefined && relHasCanonical(rel)) canonical ??= el;
        break;
      }
      case 'base': {
        const href = attributeValue(el, 'href');
        if (href !== undefined && baseHref === null) baseHref = href;
        break;
      }
      case 'h1':
        h1++;
        break;
      case 'img':
        images++;
        break;
      case 'a': {
        // parse5 files SVG's `xlink:href` under the local name `href`; a browser's `[href]` matches no namespaced attribute.
        const href = attribute(el, 'href');
        if (href !== undefined && !href.namespace) hrefs.push(href.value);
        break;
      }
    }
  }
  const root = document.childNodes.find((node): node is Element => isElement(node) && node.tagName === 'html');
  return {
    title: title ? collapseWhitespace(textOf(title)) : '',
    lang: (root && attributeValue(root, 'lang')) ?? null,
    description: description ? (attributeValue(description, 'content') ?? '').trim() : null,
    canonical: canonical ? (attributeValue(canonical, 'href') ?? '').trim() : null,
    h1,
    links: hrefs.length,
    images,
    hrefs,
    baseHref,
    nofollow,
    textHash: bodyTextHash(root),
  };
}
