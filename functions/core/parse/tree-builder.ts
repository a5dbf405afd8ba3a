import type { ChildNode, Element, ParentNode } from 'domhandler';
import { Parser } from 'parse5';
import { adapter } from 'parse5-htmlparser2-tree-adapter';
import { collapseWhitespace, inSlices, relHasCanonical, robotsSayNofollow, type PageScan } from './streaming-pass.js';
import { TextHash } from './text-hash.js';

const HTML_NS = 'http://www.w3.org/1999/xhtml';

const isElement = (node: ChildNode): node is Element => node.type === 'tag' || node.type === 'script' || node.type === 'style';

/**
 * The document's elements in tree order, without the content of `<template>` elements: a browser keeps that in a
 * separate document fragment, so no query of the document sees it. Walked with a stack of its own: nested generators
 * would hand each element up through every level above it, and a page may nest very deep.
 */
function* elements(parent: ParentNode): Generator<Element> {
  const pending: ChildNode[] = [...parent.children].reverse();
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (!isElement(node)) continue;
    yield node;
    if (node.name !== 'template') for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]!);
  }
}

/** Text content: every descendant text node, in order (a `<title>` only ever holds text in HTML). */
function textOf(el: Element): string {
  let text = '';
  for (const child of el.children) {
    if (child.type === 'text') text += child.data;
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
  const body = root?.children.find((node): node is Element => isElement(node) && (node.name === 'body' || node.name === 'frameset') && node.namespace === HTML_NS);
  const pending: ChildNode[] = body ? [...body.children].reverse() : [];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (node.type === 'text') text.add(node.data);
    else if (isElement(node) && !NOT_TEXT.has(node.name)) for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]!);
  }
  return text.digest();
}

/**
 * The slow path, for the pages `scanHtml` hands back: parse5 runs the HTML standard's tree construction (scripting
 * off, so `<noscript>` holds markup) into htmlparser2's node shapes, and one walk of the tree reads the fields. No
 * selector engine: the fields are simple enough, and the consumer's bundle stays small.
 */
export async function scanTree(html: string): Promise<PageScan> {
  const parser = new Parser({ treeAdapter: adapter, scriptingEnabled: false });
  await inSlices(html, (slice, last) => parser.tokenizer.write(slice, last));
  const document = parser.document as ParentNode;

  let title: Element | undefined;
  let description: Element | undefined;
  let canonical: Element | undefined;
  let baseHref: string | null = null;
  let nofollow = false;
  let h1 = 0;
  let images = 0;
  const hrefs: string[] = [];
  for (const el of elements(document)) {
    const html = el.namespace === HTML_NS;
    const { attribs } = el;
    switch (el.name) {
      case 'title':
        if (html) title ??= el;
        break;
      case 'meta':
        if (attribs.name === undefined) break;
        if (attribs.name.toLowerCase() === 'description') description ??= el;
        else if (attribs.name.toLowerCase() === 'robots' && attribs.content !== undefined && robotsSayNofollow(attribs.content)) nofollow = true;
        break;
      case 'link':
        if (attribs.rel !== undefined && relHasCanonical(attribs.rel)) canonical ??= el;
        break;
      case 'base':
        if (attribs.href !== undefined && baseHref === null) baseHref = attribs.href;
        break;
      case 'h1':
        h1++;
        break;
      case 'img':
        images++;
        break;
      case 'a':
        // parse5 files SVG's `xlink:href` under the local name `href`; a browser's `[href]` matches no namespaced attribute.
        if (attribs.href !== undefined && !el['x-attribsNamespace']?.['href']) hrefs.push(attribs.href);
        break;
    }
  }
  const root = document.children.find((node): node is Element => isElement(node) && node.name === 'html');
  return {
    title: title ? collapseWhitespace(textOf(title)) : '',
    lang: root?.attribs.lang ?? null,
    description: description ? (description.attribs.content ?? '').trim() : null,
    canonical: canonical ? (canonical.attribs.href ?? '').trim() : null,
    h1,
    links: hrefs.length,
    images,
    hrefs,
    baseHref,
    nofollow,
    textHash: bodyTextHash(root),
  };
}
