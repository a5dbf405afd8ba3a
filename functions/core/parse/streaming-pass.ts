import { setImmediate } from 'node:timers/promises';
import { DocumentPieces, RangeNotKept } from './document-pieces.js';
import { ScanTokenizer } from './scan-tokenizer.js';
import type { PageFields } from '../model/summary.js';
import { TagEvents, VOID, type Attributes } from './tag-events.js';
import { TextHash } from './text-hash.js';

/** What one pass over a document finds: the Summary's page fields, and what is needed to list its links. */
export interface PageScan extends PageFields {
  /** `href` values of the document's `a[href]` elements, as written. */
  hrefs: string[];
  /** `href` of the first `<base href>`, as written. */
  baseHref: string | null;
  /** Some `<meta name=robots>` says `nofollow` or `none`: the page's links are not to be followed. */
  nofollow: boolean;
  /** The Summary's textHash: SHA-256 of the body's text outside script, style and template, whitespace collapsed. */
  textHash: string;
}

/**
 * The fast path: one streaming pass of htmlparser2's tokenizer (the one behind `cheerio/slim`) with no DOM, applying
 * the browser's rules for each field as the tags go by. htmlparser2's nesting is its Parser's, reproduced by TagEvents
 * without the strings and attribute objects the Parser makes for every tag; ScanTokenizer is its Tokenizer, stepping
 * faster over text and attribute values.
 *
 * htmlparser2 is not the HTML standard's tree builder. Where the two could build different trees in a way that
 * changes a field, this pass gives up and says why, and the caller parses the page with the standard's algorithm
 * (parse5) instead. Those places are: an `<a>` that the tree builder would clone (a misnested or
 * implicitly closed `<a>`: the adoption agency and "reconstruct the active formatting elements"), tags that leave
 * SVG/MathML content, markup inside the raw-text elements htmlparser2 does not know (`iframe`, `noembed`,
 * `noframes`, `plaintext`), and escaped `<script>` text. The triggers are deliberately broad: a false alarm costs one
 * slower parse, a missed one a wrong count. The commonest misnesting, an `<a>` opened inside an open `<a>`, is
 * handled here: the adoption agency's clones are counted. The page's text adds its own places, where the tree
 * builder would move text or keep it somewhere else: text or a non-table element straight inside a table (foster
 * parenting), table parts out of place, text inside the raw-text elements htmlparser2 does not know, entities in a
 * `<textarea>` (htmlparser2 leaves them undecoded), a `<frameset>`, CDATA in SVG/MathML (text there) or holding a `>`
 * in HTML, a comment ended by `--!>`, an HTML `<template>` closed implicitly.
 *
 * The rules that do not need a tree builder are applied here: nothing inside `<template>` is part of the document;
 * only an HTML `<title>` is the document's title (not SVG's); `<image>` is `<img>`; a second `<html>` tag adds
 * attributes the first lacked; newlines are normalized and NUL becomes U+FFFD, as the input stream does.
 *
 * The text is the body's: what comes before the body is followed with the tree builder's insertion modes before
 * `<body>` (see `startTagBeforeBody`), and from there all text counts but that of `<script>`, `<style>` (in any
 * namespace: a selector matches SVG's too), `<template>`, and comments. It is hashed as it arrives (TextHash).
 */
export async function scanHtml(html: string | Iterable<string>, options: ScanOptions = {}): Promise<PageScan | { needsTreeBuilder: string }> {
  const doc = new DocumentPieces();
  const scan = new Scan(doc, options.hashText ?? true);
  const tokenizer = new ScanTokenizer({ decodeEntities: true }, scan);
  try {
    // The event loop runs between slices of a long document, as in inSlices.
    let unyielded = 0;
    for (const piece of typeof html === 'string' ? slicesOf(html) : html) {
      if (unyielded >= SLICE_CHARS) {
        await setImmediate();
        unyielded = 0;
      }
      doc.add(piece);
      tokenizer.write(piece);
      unyielded += piece.length;
    }
    // htmlparser2 closes whatever is still open at the end; a browser just stops, so those closes mean nothing.
    scan.ended = true;
    tokenizer.end();
  } catch (err) {
    if (err instanceof NeedsTreeBuilder) return { needsTreeBuilder: err.message };
    // A range before the pieces kept (DocumentPieces): the tree builder reads the page right all the same.
    if (err instanceof RangeNotKept) return { needsTreeBuilder: err.message };
    throw err;
  }
  return scan.result();
}

export interface ScanOptions {
  /** False leaves the text out (textHash is then empty): the bench's way to show what the text costs. */
  hashText?: boolean;
}

/**
 * Feeds a long document to a parser in slices, letting the event loop run between them: a 5 MB page then holds the
 * loop for a few milliseconds at a time instead of for the whole parse, and the other fetches in flight go on.
 */
export const SLICE_CHARS = 256 * 1024;
export async function inSlices(text: string, write: (slice: string, last: boolean) => void): Promise<void> {
  let written = 0;
  for (const slice of slicesOf(text)) {
    if (written > 0) await setImmediate();
    written += slice.length;
    write(slice, written >= text.length);
  }
}
/** The text in slices of SLICE_CHARS (a short one whole). */
function* slicesOf(text: string): Generator<string> {
  if (text.length <= SLICE_CHARS) return yield text;
  for (let at = 0; at < text.length; at += SLICE_CHARS) yield text.slice(at, at + SLICE_CHARS);
}

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
const CLOSES_OWN_KIND = new Map<string, readonly string[]>([['li', ['li']], ['dd', ['dd', 'dt']], ['dt', ['dd', 'dt']], ['button', ['button']]]);
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
/** Where the tree builder's current node makes text and most elements go before the table ("foster parenting"). */
const TABLE_CONTEXT = new Set(['table', 'tbody', 'thead', 'tfoot', 'tr', 'colgroup']);
/** What the tree builder keeps in place inside a table (void elements are moved out too, but hold no text). */
const IN_TABLE_PLACE = new Set(['caption', 'colgroup', 'col', 'tbody', 'thead', 'tfoot', 'tr', 'td', 'th', 'table', 'script', 'style', 'template', 'input', 'form']);
/** The table parts, and the elements they must sit in for htmlparser2's nesting to be the tree builder's. */
const TABLE_PART_PARENTS = new Map<string, ReadonlySet<string>>([
  ['td', new Set(['tr', 'tbody', 'thead', 'tfoot', 'table'])],
  ['th', new Set(['tr', 'tbody', 'thead', 'tfoot', 'table'])],
  ['tr', new Set(['tbody', 'thead', 'tfoot', 'table'])],
  ['tbody', new Set(['table'])],
  ['thead', new Set(['table'])],
  ['tfoot', new Set(['table'])],
  ['caption', new Set(['table'])],
  ['colgroup', new Set(['table'])],
]);
/** Elements the tree builder puts in the head before the body starts ("in head"); anything else starts the body. */
const HEAD_CONTENT = new Set(['base', 'basefont', 'bgsound', 'link', 'meta', 'noframes', 'script', 'style', 'template', 'title']);
/** What a `<noscript>` in the head may hold (scripting off); anything else closes it and is taken as in the head. */
const HEAD_NOSCRIPT_CONTENT = new Set(['basefont', 'bgsound', 'link', 'meta', 'noframes', 'style']);
/** Elements whose first newline the tree builder drops. */
const DROPS_FIRST_NEWLINE = new Set(['pre', 'listing', 'textarea']);
/** Elements htmlparser2 reads as raw text or RCDATA in any namespace; in SVG/MathML a browser reads tags and entities. */
const HTMLPARSER2_RAW = new Set(['title', 'textarea', 'xmp']);
/** HTML elements whose text the tokenizer reads as RCDATA or raw text, where NUL becomes U+FFFD. */
const KEEPS_NUL = new Set(['title', 'textarea', 'xmp', 'iframe', 'noembed', 'noframes']);
const NOT_ASCII_WHITESPACE = /[^\t\n\f\r ]/;
/** `doc.slice(start, end)` is all ASCII whitespace (and not empty). */
function isWhitespaceIn(doc: DocumentPieces, start: number, end: number): boolean {
  if (start >= doc.lastStart) return isWhitespace(doc.last, start - doc.lastStart, end - doc.lastStart);
  const text = doc.slice(start, end);
  return isWhitespace(text, 0, text.length);
}
function isWhitespace(html: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const c = html.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d && c !== 0x0c) return false;
  }
  return true;
}

/** The tree builder's insertion modes before the body, and "in body" for all that follows. */
const enum Mode {
  BeforeHead,
  InHead,
  InHeadNoscript,
  AfterHead,
  InBody,
}

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

/** The tags whose attributes the scan reads (see `onopentag`). */
const ATTRIBUTE_TAGS = new Set(['a', 'html', 'meta', 'link', 'base', 'font']);

class Scan extends TagEvents {
  private readonly names: string[] = [];
  private readonly namespaces: Ns[] = [];
  /** The open HTML `<a>` elements: stack position, and `href` for the clones a browser may make of them. */
  private readonly openAnchors: { at: number; href: string | undefined }[] = [];
  /** Stack positions of `<a>` elements a browser has closed but htmlparser2 still holds open. */
  private readonly closedAnchors = new Set<number>();
  private templateDepth = 0;
  /** Open `<template>` elements in SVG/MathML: not a template's content, but `querySelectorAll('template')` removes them. */
  private foreignTemplateDepth = 0;
  private rawTextDepth = 0;
  ended = false;
  private titleState: 'none' | 'open' | 'done' = 'none';
  private titleText = '';
  /** An HTML `<script>` is open; its text (raw text: one range of the document) is `doc.slice(scriptStart, scriptEnd)`. */
  private scriptOpen = false;
  private scriptStart = 0;
  private scriptEnd = 0;

  private lang: string | null = null;
  private description: string | null = null;
  private canonical: string | null = null;
  private baseHref: string | null = null;
  private nofollow = false;
  private h1 = 0;
  private images = 0;
  private readonly hrefs: string[] = [];

  private mode = Mode.BeforeHead;
  private readonly hash: TextHash | null;
  /**
   * The last token opened a `<pre>`, `<listing>` or `<textarea>`: a newline that follows at once is dropped ('newline');
   * or it was a lone CR ending a piece of text, whose LF may start the next piece ('lf', as CRLF is one newline).
   */
  private dropNext: 'newline' | 'lf' | null = null;

  constructor(doc: DocumentPieces, hashText: boolean) {
    super(doc, ATTRIBUTE_TAGS);
    this.hash = hashText ? new TextHash() : null;
  }

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
      textHash: this.hash?.digest() ?? '',
    };
  }

  protected endTagToken(name: string): void {
    // In a raw-text element a browser reads any other end tag as text; htmlparser2 would close elements with it.
    if (this.rawTextDepth > 0 && name !== this.names[this.names.length - 1]) throw new NeedsTreeBuilder(`markup inside <${this.names[this.names.length - 1]}>`);
    if (this.hash && this.mode !== Mode.InBody && this.templateDepth === 0) this.endTagBeforeBody(name);
  }

  protected openTag(name: string, attribs: Attributes, isImplied: boolean): void {
    const depth = this.names.length;
    const parentNs = depth ? this.namespaces[depth - 1]! : Ns.Html;
    let ns: Ns;
    if (parentNs === Ns.Html || INTEGRATION_POINTS.has(this.names[depth - 1]!)) {
      ns = name === 'svg' ? Ns.Svg : name === 'math' ? Ns.MathMl : Ns.Html;
    } else {
      if (FOREIGN_BREAKOUT.has(name) || (name === 'font' && (attribs.color !== undefined || attribs.face !== undefined || attribs.size !== undefined))) {
        throw new NeedsTreeBuilder(`<${name}> leaves SVG/MathML content`);
      }
      ns = parentNs;
    }
    if (this.rawTextDepth > 0) throw new NeedsTreeBuilder(`markup inside <${this.names.find((n) => RAW_TEXT.has(n))}>`);
    if (this.hash && this.templateDepth === 0) this.textOnStartTag(name, ns, isImplied);
    this.names.push(name);
    this.namespaces.push(ns);

    if (ns === Ns.Html && name === 'template') this.templateDepth++;
    else if (name === 'template') this.foreignTemplateDepth++;
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
          this.scriptOpen = true;
          this.scriptStart = this.scriptEnd = 0;
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
    const closes = CLOSES_P.has(name) ? ['p'] : CLOSES_OWN_KIND.get(name);
    if (!closes) return;
    for (let i = 0; i < anchor.at; i++) {
      if (closes.includes(this.names[i]!)) throw new NeedsTreeBuilder(`<${name}> closes a <${this.names[i]}> holding an <a>`);
    }
  }

  protected closeTag(name: string, implied: boolean): void {
    if (this.ended) return;
    const depth = this.names.length - 1;
    const ns = this.namespaces[depth];
    this.names.pop();
    this.namespaces.pop();
    if (ns !== Ns.Html) {
      if (name === 'template') this.foreignTemplateDepth--;
      return;
    }
    if (name === 'template') {
      // htmlparser2 closes a template when an end tag closes an element around it; a browser does not.
      if (implied) throw new NeedsTreeBuilder('<template> closed implicitly');
      this.templateDepth--;
      return;
    }
    if (this.templateDepth > 0) return;
    this.dropNext = null;
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
        if (this.scriptOpen && this.scriptEnd > 0) {
          const script = this.doc.slice(this.scriptStart, this.scriptEnd);
          this.doc.unpin();
          if (script.includes('<!--') && /<script[\t\n\f\r />]/i.test(script)) throw new NeedsTreeBuilder('escaped <script> text');
        }
        this.scriptOpen = false;
        break;
      default:
        if (RAW_TEXT.has(name)) this.rawTextDepth--;
    }
  }

  protected text(start: number, end: number): void {
    // Text flushed at the end is what htmlparser2 holds back: a tag, comment or declaration cut off by the end of
    // the document, most of which a browser drops or takes as a comment.
    if (this.ended && this.hash) throw new NeedsTreeBuilder('the document ends inside markup');
    if (this.titleState === 'open') {
      this.titleText += this.doc.slice(start, end);
    } else if (this.scriptOpen) {
      // The pieces of a script's text follow each other (htmlparser2 decodes no character reference there).
      if (this.scriptEnd === 0) {
        this.scriptStart = start;
        this.doc.pin(start);
      }
      this.scriptEnd = end;
    }
    if (this.hash && this.templateDepth === 0 && this.foreignTemplateDepth === 0) this.bodyText(start, end, null, this.hash);
  }

  protected textEntity(text: string): void {
    if (this.ended && this.hash) throw new NeedsTreeBuilder('the document ends inside markup');
    if (this.titleState === 'open') this.titleText += text;
    if (this.hash && this.templateDepth === 0 && this.foreignTemplateDepth === 0) this.bodyText(0, 0, text, this.hash);
  }

  protected comment(start: number, end: number): void {
    this.dropNext = null;
    if (this.hash && this.templateDepth === 0) this.commentData(this.doc.slice(start, end));
  }

  protected cdata(start: number, end: number): void {
    this.dropNext = null;
    if (this.hash && this.templateDepth === 0) this.commentData(`[CDATA[${this.doc.slice(start, end)}]]`);
  }

  protected declaration(): void {
    this.dropNext = null;
  }

  private commentData(data: string): void {
    // htmlparser2 takes `<![CDATA[...]]>` for a comment. A browser does so in HTML but ends it at the first `>`, and
    // in SVG/MathML it is text. And a browser also ends a comment at `--!>`.
    if (data.startsWith('[CDATA[') && data.endsWith(']]')) {
      const ns = this.namespaces[this.namespaces.length - 1] ?? Ns.Html;
      if (ns !== Ns.Html) throw new NeedsTreeBuilder('CDATA in SVG/MathML');
      if (data.includes('>')) throw new NeedsTreeBuilder('CDATA holding a >');
    } else if (data.includes('--!>')) {
      throw new NeedsTreeBuilder('a comment ended by --!>');
    }
  }

  /** A start tag (outside templates), for the text: it may start the body, or be where the text goes elsewhere. */
  private textOnStartTag(name: string, ns: Ns, isImplied: boolean): void {
    this.dropNext = null;
    if (ns === Ns.Html && name === 'frameset') throw new NeedsTreeBuilder('<frameset>: the body may be a frameset');
    if (this.mode !== Mode.InBody) {
      // htmlparser2 turns `</p>` into `<p></p>` and `</br>` into `<br>`: end tags, which onEndTagToken has seen.
      if (!isImplied) this.startTagBeforeBody(name, ns);
      return;
    }
    if (ns !== Ns.Html) return;
    if (DROPS_FIRST_NEWLINE.has(name)) this.dropNext = 'newline';
    const parent = this.tableParent();
    if (parent !== null && !IN_TABLE_PLACE.has(name) && !VOID.has(name)) throw new NeedsTreeBuilder(`<${name}> straight inside <${parent}>`);
    const parents = TABLE_PART_PARENTS.get(name);
    if (parents && !(parent !== null && parents.has(parent))) throw new NeedsTreeBuilder(`<${name}> out of its table`);
  }

  /**
   * The element the tree builder would insert into, if it is one where text is moved before the table; else null.
   * A `<form>` opened straight inside a table is closed by the tree builder at once: what follows is in the table.
   */
  private tableParent(): string | null {
    let at = this.names.length - 1;
    while (at > 0 && this.names[at] === 'form' && TABLE_CONTEXT.has(this.names[at - 1]!) && this.namespaces[at - 1] === Ns.Html) at--;
    return at >= 0 && this.namespaces[at] === Ns.Html && TABLE_CONTEXT.has(this.names[at]!) ? this.names[at]! : null;
  }

  /** The insertion modes before the body ("before head", "in head", "in head noscript", "after head") for a start tag. */
  private startTagBeforeBody(name: string, ns: Ns): void {
    for (;;) {
      if (ns === Ns.Html && name === 'html') return;
      switch (this.mode) {
        case Mode.BeforeHead:
          this.mode = Mode.InHead;
          if (name === 'head') return;
          continue;
        case Mode.InHeadNoscript:
          if (name === 'head' || name === 'noscript' || HEAD_NOSCRIPT_CONTENT.has(name)) return;
          this.mode = Mode.InHead;
          continue;
        case Mode.InHead:
          if (name === 'head' || HEAD_CONTENT.has(name)) return;
          if (name === 'noscript') {
            this.mode = Mode.InHeadNoscript;
            return;
          }
          this.mode = Mode.AfterHead;
          continue;
        default:
          if (name === 'head' || HEAD_CONTENT.has(name)) return;
          this.mode = Mode.InBody;
          return;
      }
    }
  }

  /** An end tag before the body: `</head>` and `</noscript>` move on; `</body>`, `</html>` and `</br>` start the body. */
  private endTagBeforeBody(name: string): void {
    if (this.mode === Mode.InHeadNoscript) {
      if (name === 'noscript') this.mode = Mode.InHead;
      else if (name === 'br') this.mode = Mode.InBody;
    } else if (name === 'body' || name === 'html' || name === 'br') {
      this.mode = Mode.InBody;
    } else if (name === 'head' && this.mode !== Mode.AfterHead) {
      this.mode = Mode.AfterHead;
    }
  }

  /**
   * Text outside templates, `html.slice(start, end)` or the character a character reference stands for (`entity`):
   * hashed if it is the body's.
   */
  private bodyText(start: number, end: number, entity: string | null, hash: TextHash): void {
    const depth = this.names.length - 1;
    const element = this.names[depth];
    const html = depth < 0 || this.namespaces[depth] === Ns.Html;
    if (element === 'script' || element === 'style') {
      // htmlparser2 reads these as raw text in SVG/MathML too, where a browser reads tags, which may leave the SVG.
      if (!html && /<\/?[a-z]/i.test(entity ?? this.doc.slice(start, end))) throw new NeedsTreeBuilder(`a tag inside an SVG/MathML <${element}>`);
      return;
    }
    // Much of the text between tags is whitespace alone, which only ever separates words: no string is needed.
    if (entity === null && this.mode === Mode.InBody && this.dropNext === null && isWhitespaceIn(this.doc, start, end)) return hash.space();
    let text = entity ?? this.doc.slice(start, end);
    if (this.mode !== Mode.InBody) {
      // A <title> or <noframes> before the body is the head's.
      if (html && (element === 'title' || element === 'noframes')) return;
      const first = text.search(NOT_ASCII_WHITESPACE);
      if (first < 0) return;
      this.mode = Mode.InBody;
      text = text.slice(first);
    }
    // A browser decodes no character reference in these; htmlparser2 does, and hands a decoded one over on its own.
    if (entity !== null && html && element !== undefined && RAW_TEXT.has(element)) {
      throw new NeedsTreeBuilder(`a character reference inside <${element}>`);
    }
    if (!html && element !== undefined && HTMLPARSER2_RAW.has(element) && /<\/?[a-z]|&/i.test(text)) {
      throw new NeedsTreeBuilder(`a tag or character reference inside an SVG/MathML <${element}>`);
    }
    if (html && element === 'textarea' && text.includes('&')) throw new NeedsTreeBuilder('a character reference in <textarea>');
    if (this.dropNext !== null) text = this.dropFirstNewline(text);
    if (this.tableParent() !== null && NOT_ASCII_WHITESPACE.test(text)) throw new NeedsTreeBuilder('text straight inside a table');
    if (text.includes('\0')) {
      // The tree builder drops NUL from HTML text; in RCDATA, raw text and SVG/MathML the tokenizer made it U+FFFD.
      text = html && !KEEPS_NUL.has(element!) ? text.replaceAll('\0', '') : text.replaceAll('\0', '\ufffd');
    }
    hash.add(text);
  }

  private dropFirstNewline(text: string): string {
    const first = text.charCodeAt(0);
    const drop = this.dropNext;
    this.dropNext = null;
    if (first === 0x0a) return text.slice(1);
    if (first !== 0x0d || drop === 'lf') return text;
    if (text.length === 1) this.dropNext = 'lf';
    return text.charCodeAt(1) === 0x0a ? text.slice(2) : text.slice(1);
  }
}
