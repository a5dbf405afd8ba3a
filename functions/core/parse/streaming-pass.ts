import { setImmediate } from 'node:timers/promises';
import { Parser, type Handler } from 'htmlparser2';
import type { PageFields } from '../model/summary.js';

/** What one pass over a document finds: the Summary's page fields, and what is needed to list its links. */
export interface PageScan extends PageFields {
  /** `href` values of the document's `a[href]` elements, as written. */
  hrefs: string[];
  /** `href` of the first `<base href>`, as written. */
  baseHref: string | null;
  /** Some `<meta name=robots>` says `nofollow` or `none`: the page's links are not to be followed. */
  nofollow: boolean;
}

/**
 * The fast path: one streaming pass of htmlparser2 (the parser behind `cheerio/slim`) with no DOM, applying the
 * browser's rules for each field as the tags go by.
 *
 * htmlparser2 is not the HTML standard's tree builder. Where the two could build different trees in a way that
 * changes a field, this pass gives up and says why, and the caller parses the page with the standard's algorithm
 * (parse5) instead. Those places are: an `<a>` that the tree builder would clone (a misnested or
 * implicitly closed `<a>`: the adoption agency and "reconstruct the active formatting elements"), tags that leave
 * SVG/MathML content, markup inside the raw-text elements htmlparser2 does not know (`iframe`, `noembed`,
 * `noframes`, `plaintext`), and escaped `<script>` text. The triggers are deliberately broad: a false alarm costs one
 * slower parse, a missed one a wrong count. The commonest misnesting, an `<a>` opened inside an open `<a>`, is
 * handled here: the adoption agency's clones are counted. On the real-page corpus 4 pages in 178 take the slow path.
 *
 * The rules that do not need a tree builder are applied here: nothing inside `<template>` is part of the document;
 * only an HTML `<title>` is the document's title (not SVG's); `<image>` is `<img>`; a second `<html>` tag adds
 * attributes the first lacked; newlines are normalized and NUL becomes U+FFFD, as the input stream does.
 */
export async function scanHtml(html: string): Promise<PageScan | { needsTreeBuilder: string }> {
  const scan = new Scan();
  const parser = new Parser(scan, PARSER_OPTIONS);
  try {
    await inSlices(html, (slice) => parser.write(slice));
    // htmlparser2 closes whatever is still open at the end; a browser just stops, so those closes mean nothing.
    scan.ended = true;
    parser.end();
  } catch (err) {
    if (err instanceof NeedsTreeBuilder) return { needsTreeBuilder: err.message };
    throw err;
  }
  return scan.result();
}

/**
 * Feeds a long document to a parser in slices, letting the event loop run between them: a 5 MB page then holds the
 * loop for a few milliseconds at a time instead of for the whole parse, and the other fetches in flight go on.
 */
export const SLICE_CHARS = 256 * 1024;
export async function inSlices(text: string, write: (slice: string, last: boolean) => void): Promise<void> {
  if (text.length <= SLICE_CHARS) return write(text, true);
  for (let at = 0; at < text.length; at += SLICE_CHARS) {
    if (at > 0) await setImmediate();
    write(text.slice(at, at + SLICE_CHARS), at + SLICE_CHARS >= text.length);
  }
}

const PARSER_OPTIONS = { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: false };

class NeedsTreeBuilder extends Error {}

const enum Ns {
  Html,
  Svg,
  MathMl,
}

/** Start tags that make the tree builder leave SVG/MathML content ("breakout" in the foreign-content rules). */
const FOREIGN_BREAKOUT = new Set([
  'b', 'big', 'blockquote', 'body', 'br', 'center', 'code', 'dd', 'div', 'dl', 'dt', 'em', 'embed', 'h1', 'h2', 'h3',
  'h4', 'h5', 'h6', 'head', 'hr', 'i', 'img', 'li', 'listing', 'menu', 'meta', 'nobr', 'ol', 'p', 'pre', 'ruby', 's',
  'small', 'span', 'strong', 'strike', 'sub', 'sup', 'table', 'tt', 'u', 'ul', 'var',
]);
/** Elements whose children are HTML again inside SVG or MathML ("HTML integration points", roughly). */
const INTEGRATION_POINTS = new Set(['foreignobject', 'desc', 'title', 'mi', 'mo', 'mn', 'ms', 'mtext', 'annotation-xml']);
/** Start tags that "close a p element" in body: when that `<p>` is below an open `<a>`, the `<a>` is popped too. */
const CLOSES_P = new Set([
  'address', 'article', 'aside', 'blockquote', 'center', 'details', 'dialog', 'dir', 'div', 'dl', 'fieldset',
  'figcaption', 'figure', 'footer', 'header', 'hgroup', 'main', 'menu', 'nav', 'ol', 'p', 'search', 'section',
  'summary', 'ul', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'pre', 'listing', 'form', 'table', 'hr', 'xmp', 'plaintext',
]);
/** Start tags that close an open element of their own kind (or a sibling kind) further down the stack. */
const CLOSES_OWN_KIND: Record<string, readonly string[]> = { li: ['li'], dd: ['dd', 'dt'], dt: ['dd', 'dt'], button: ['button'] };
/** The standard's "special" elements: an open one inside a closed `<a>` makes the adoption agency clone the `<a>`. */
const SPECIAL = new Set([
  'address', 'applet', 'area', 'article', 'aside', 'base', 'basefont', 'bgsound', 'blockquote', 'body', 'br', 'button',
  'caption', 'center', 'col', 'colgroup', 'dd', 'details', 'dir', 'div', 'dl', 'dt', 'embed', 'fieldset', 'figcaption',
  'figure', 'footer', 'form', 'frame', 'frameset', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'head', 'header', 'hgroup', 'hr',
  'html', 'iframe', 'img', 'input', 'keygen', 'li', 'link', 'listing', 'main', 'marquee', 'menu', 'meta', 'nav',
  'noembed', 'noframes', 'noscript', 'object', 'ol', 'p', 'param', 'plaintext', 'pre', 'script', 'search', 'section',
  'select', 'source', 'style', 'summary', 'table', 'tbody', 'td', 'template', 'textarea', 'tfoot', 'th', 'thead',
  'title', 'tr', 'track', 'ul', 'wbr', 'xmp',
]);
/** Elements that insert a marker into the list of active formatting elements. */
const MARKERS = new Set(['applet', 'object', 'marquee', 'td', 'th', 'caption']);
const TABLE_PARTS = new Set(['caption', 'col', 'colgroup', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr']);
/** Raw-text elements for a browser that htmlparser2 parses as markup. */
const RAW_TEXT = new Set(['iframe', 'noembed', 'noframes']);
const VOID = new Set(['area', 'base', 'basefont', 'br', 'col', 'command', 'embed', 'frame', 'hr', 'img', 'input', 'isindex', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr']);

/** The input stream's preprocessing, for the values we keep: CRLF and CR become LF, NUL becomes U+FFFD. */
export const normalizeText = (text: string) => text.replace(/\r\n?/g, '\n').replace(/\0/g, '\ufffd');
/** `document.title`: "strip and collapse ASCII whitespace". */
export const collapseWhitespace = (text: string) => text.replace(/[\t\n\f\r ]+/g, ' ').replace(/^ | $/g, '');
/** `rel` is a set of space-separated tokens, compared ASCII case-insensitively. */
export const relHasCanonical = (rel: string) => rel.toLowerCase().split(/[\t\n\f\r ]+/).includes('canonical');
/** A `<meta name=robots>` `content`: comma-separated directives, compared case-insensitively; `none` includes nofollow. */
export const robotsSayNofollow = (content: string) =>
  content.split(',').some((directive) => {
    const d = directive.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').toLowerCase();
    return d === 'nofollow' || d === 'none';
  });

class Scan implements Partial<Handler> {
  private readonly names: string[] = [];
  private readonly namespaces: Ns[] = [];
  /** The open HTML `<a>` elements: stack position, and `href` for the clones a browser may make of them. */
  private readonly openAnchors: { at: number; href: string | undefined }[] = [];
  /** Stack positions of `<a>` elements a browser has closed but htmlparser2 still holds open. */
  private readonly closedAnchors = new Set<number>();
  private templateDepth = 0;
  private rawTextDepth = 0;
  ended = false;
  private titleState: 'none' | 'open' | 'done' = 'none';
  private titleText = '';
  private scriptText: string | null = null;

  private lang: string | null = null;
  private description: string | null = null;
  private canonical: string | null = null;
  private baseHref: string | null = null;
  private nofollow = false;
  private h1 = 0;
  private images = 0;
  private readonly hrefs: string[] = [];

  result(): PageScan {
    return {
      title: this.titleState === 'none' ? '' : collapseWhitespace(normalizeText(this.titleText)),
      lang: this.lang === null ? null : normalizeText(this.lang),
      description: this.description === null ? null : normalizeText(this.description).trim(),
      canonical: this.canonical === null ? null : normalizeText(this.canonical).trim(),
      h1: this.h1,
      links: this.hrefs.length,
      images: this.images,
      hrefs: this.hrefs,
      baseHref: this.baseHref,
      nofollow: this.nofollow,
    };
  }

  onopentag(name: string, attribs: Record<string, string>): void {
    const depth = this.names.length;
    const parentNs = depth ? this.namespaces[depth - 1]! : Ns.Html;
    let ns: Ns;
    if (parentNs === Ns.Html || INTEGRATION_POINTS.has(this.names[depth - 1]!)) {
      ns = name === 'svg' ? Ns.Svg : name === 'math' ? Ns.MathMl : Ns.Html;
    } else {
      if (FOREIGN_BREAKOUT.has(name) || (name === 'font' && ('color' in attribs || 'face' in attribs || 'size' in attribs))) {
        throw new NeedsTreeBuilder(`<${name}> leaves SVG/MathML content`);
      }
      ns = parentNs;
    }
    if (this.rawTextDepth > 0) throw new NeedsTreeBuilder(`markup inside <${this.names.find((n) => RAW_TEXT.has(n))}>`);
    this.names.push(name);
    this.namespaces.push(ns);

    if (ns === Ns.Html && name === 'template') this.templateDepth++;
    if (this.templateDepth > 0) return;

    if (ns === Ns.Html) {
      if (this.openAnchors.length > 0) this.checkAnchorSurvives(name);
      switch (name) {
        case 'a':
          this.openAnchors.push({ at: depth, href: attribs.href });
          break;
        case 'img':
        case 'image':
          this.images++;
          break;
        case 'h1':
          this.h1++;
          break;
        case 'title':
          if (this.titleState === 'none') this.titleState = 'open';
          break;
        case 'html':
          if (this.lang === null && attribs.lang !== undefined) this.lang = attribs.lang;
          break;
        case 'script':
          this.scriptText = '';
          break;
        case 'plaintext':
          throw new NeedsTreeBuilder('<plaintext>');
        default:
          if (RAW_TEXT.has(name)) this.rawTextDepth++;
      }
    }
    // Selectors match these in any namespace (an SVG <a href> is an `a[href]`), and <meta> always leaves SVG.
    if (name === 'a') {
      if (attribs.href !== undefined) this.hrefs.push(attribs.href);
    } else if (name === 'meta' && attribs.name !== undefined) {
      const metaName = attribs.name.toLowerCase();
      if (metaName === 'description') this.description ??= attribs.content ?? '';
      else if (metaName === 'robots' && attribs.content !== undefined && robotsSayNofollow(attribs.content)) this.nofollow = true;
    } else if (name === 'link') {
      if (this.canonical === null && attribs.rel !== undefined && relHasCanonical(attribs.rel)) this.canonical = attribs.href ?? '';
    } else if (name === 'base') {
      if (this.baseHref === null && attribs.href !== undefined) this.baseHref = attribs.href;
    }
  }

  /** While an `<a>` is open, a start tag that would pop it (and so have it cloned later) needs the tree builder. */
  private checkAnchorSurvives(name: string): void {
    const anchor = this.openAnchors[this.openAnchors.length - 1]!;
    if (name === 'a') {
      // A new <a> first closes the open one with the adoption agency algorithm, which clones the old <a> once into
      // each special element opened inside it (at most 8 rounds), and closes the old <a>. htmlparser2 nests the new
      // <a> instead, so we count the clones and note that the old <a> is closed.
      // Unless an element that puts a marker in the list of active formatting elements is open inside the old <a>:
      // then the old one is out of reach, and the new <a> simply nests, as htmlparser2 has it.
      let specials = 0;
      let foreign: string | null = null;
      for (let i = anchor.at + 1; i < this.names.length; i++) {
        const inside = this.names[i]!;
        if (this.namespaces[i] !== Ns.Html) foreign ??= inside;
        else if (MARKERS.has(inside)) return;
        else if (SPECIAL.has(inside)) specials++;
      }
      if (foreign !== null) throw new NeedsTreeBuilder(`<a> inside <a> around <${foreign}>`);
      if (specials >= 8) throw new NeedsTreeBuilder('<a> inside <a> around 8 or more special elements');
      if (anchor.href !== undefined) for (let i = 0; i < specials; i++) this.hrefs.push(anchor.href);
      this.openAnchors.pop();
      this.closedAnchors.add(anchor.at);
      return;
    }
    if (TABLE_PARTS.has(name)) throw new NeedsTreeBuilder(`<${name}> inside <a>`);
    const closes = CLOSES_P.has(name) ? ['p'] : CLOSES_OWN_KIND[name];
    if (!closes) return;
    for (let i = 0; i < anchor.at; i++) {
      if (closes.includes(this.names[i]!)) throw new NeedsTreeBuilder(`<${name}> closes a <${this.names[i]}> holding an <a>`);
    }
  }

  onclosetag(name: string, implied: boolean): void {
    if (this.ended) return;
    const depth = this.names.length - 1;
    const ns = this.namespaces[depth];
    this.names.pop();
    this.namespaces.pop();
    if (ns !== Ns.Html) return;
    if (name === 'template') {
      this.templateDepth--;
      return;
    }
    if (this.templateDepth > 0) return;
    if (name === 'a' && this.closedAnchors.delete(depth)) return;
    if (this.openAnchors.length > 0 && implied && !VOID.has(name)) {
      throw new NeedsTreeBuilder(`<${name}> closed implicitly inside <a>`);
    }
    switch (name) {
      case 'a':
        this.openAnchors.pop();
        break;
      case 'title':
        if (this.titleState === 'open') this.titleState = 'done';
        break;
      case 'script':
        // A browser's "script data escaped" states: after `<!--`, a `<script>` hides the next `</script>`.
        if (this.scriptText !== null && this.scriptText.includes('<!--') && /<script[\t\n\f\r />]/i.test(this.scriptText)) {
          throw new NeedsTreeBuilder('escaped <script> text');
        }
        this.scriptText = null;
        break;
      default:
        if (RAW_TEXT.has(name)) this.rawTextDepth--;
    }
  }

  ontext(text: string): void {
    if (this.titleState === 'open') this.titleText += text;
    else if (this.scriptText !== null) this.scriptText += text;
  }
}
