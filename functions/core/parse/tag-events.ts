import { QuoteType, type TokenizerCallbacks } from 'htmlparser2';
import type { DocumentPieces } from './document-pieces.js';

/**
 * What htmlparser2's `Parser` makes of its tokenizer's events (htmlparser2 10.1.0 in HTML mode, tag and attribute
 * names lower-cased, `/>` honoured only in SVG/MathML): which elements a start tag closes, which elements are void,
 * what an end tag closes, `</p>` and `</br>`. The streaming pass relies on exactly that nesting, so these rules are
 * the Parser's own, reproduced; what is left out is the work the pass does not need. The Parser slices out every tag
 * name, attribute and text as a string and builds each tag's attribute object; here a subclass is handed index
 * ranges into the document, slicing only what it reads, and only the attributes it names of the tags it names.
 */

const P = new Set(['p']);
const FORM_TAGS = new Set(['input', 'option', 'optgroup', 'select', 'button', 'datalist', 'textarea']);
const TABLE_SECTIONS = new Set(['thead', 'tbody']);
const DD_DT = new Set(['dd', 'dt']);
const RT_RP = new Set(['rt', 'rp']);
/** Open elements a start tag closes first, while one of them is the innermost (htmlparser2's `openImpliesClose`). */
const OPEN_IMPLIES_CLOSE = new Map<string, ReadonlySet<string>>([
  ['tr', new Set(['tr', 'th', 'td'])],
  ['th', new Set(['th'])],
  ['td', new Set(['thead', 'th', 'td'])],
  ['body', new Set(['head', 'link', 'script'])],
  ['li', new Set(['li'])],
  ['option', new Set(['option'])],
  ['optgroup', new Set(['optgroup', 'option'])],
  ['dd', DD_DT],
  ['dt', DD_DT],
  ['rt', RT_RP],
  ['rp', RT_RP],
  ['tbody', TABLE_SECTIONS],
  ['tfoot', TABLE_SECTIONS],
  ...['select', 'input', 'output', 'button', 'datalist', 'textarea'].map((name) => [name, FORM_TAGS] as const),
  ...['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'address', 'article', 'aside', 'blockquote', 'details', 'div', 'dl',
    'fieldset', 'figcaption', 'figure', 'footer', 'form', 'header', 'hr', 'main', 'nav', 'ol', 'pre', 'section', 'table',
    'ul'].map((name) => [name, P] as const),
]);
/** htmlparser2's void elements: never on its stack, closed as soon as opened. */
export const VOID = new Set(['area', 'base', 'basefont', 'br', 'col', 'command', 'embed', 'frame', 'hr', 'img', 'input', 'isindex', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
/** Where `/>` closes the element (htmlparser2's foreign context), and the elements that end it. */
const FOREIGN_CONTEXT = new Set(['math', 'svg']);
const HTML_INTEGRATION = new Set(['mi', 'mo', 'mn', 'ms', 'mtext', 'annotation-xml', 'foreignobject', 'desc', 'title']);

/**
 * Tag names met often enough to be worth knowing: HTML's elements, and SVG's and MathML's commonest. A tag with one of
 * these names, in any ASCII case, is named by this very string (see `nameOf`).
 */
const KNOWN_TAGS = [
  'a', 'abbr', 'address', 'area', 'article', 'aside', 'audio', 'b', 'base', 'bdi', 'bdo', 'blockquote', 'body', 'br',
  'button', 'canvas', 'caption', 'center', 'cite', 'code', 'col', 'colgroup', 'data', 'datalist', 'dd', 'del',
  'details', 'dfn', 'dialog', 'div', 'dl', 'dt', 'em', 'embed', 'fieldset', 'figcaption', 'figure', 'font', 'footer',
  'form', 'frame', 'frameset', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'head', 'header', 'hgroup', 'hr', 'html', 'i',
  'iframe', 'image', 'img', 'input', 'ins', 'kbd', 'label', 'legend', 'li', 'link', 'main', 'map', 'mark', 'menu',
  'meta', 'meter', 'nav', 'nobr', 'noembed', 'noframes', 'noscript', 'object', 'ol', 'optgroup', 'option', 'output',
  'p', 'param', 'picture', 'plaintext', 'pre', 'progress', 'q', 'rp', 'rt', 'ruby', 's', 'samp', 'script', 'search',
  'section', 'select', 'slot', 'small', 'source', 'span', 'strike', 'strong', 'style', 'sub', 'summary', 'sup',
  'table', 'tbody', 'td', 'template', 'textarea', 'tfoot', 'th', 'thead', 'time', 'title', 'tr', 'track', 'tt', 'u',
  'ul', 'var', 'video', 'wbr', 'xmp', 'svg', 'g', 'path', 'use', 'defs', 'symbol', 'circle', 'rect', 'line',
  'polygon', 'polyline', 'ellipse', 'text', 'tspan', 'lineargradient', 'radialgradient', 'stop', 'clippath', 'mask',
  'filter', 'desc', 'foreignobject', 'math', 'mi', 'mo', 'mn', 'ms', 'mtext', 'annotation-xml',
];

/**
 * A set of lower-case ASCII names, looked up straight from a range of the document in any ASCII case: no string is
 * made to find one, and a name found is the set's own string (one per name: no copy to hash for each table, nor to
 * compare). An open-addressing table keyed by a hash of the characters; a name whose key another took is not kept.
 */
class KnownNames {
  private readonly keys: Int32Array;
  private readonly names: (string | undefined)[];
  private readonly mask: number;
  private readonly longest: number;

  constructor(names: readonly string[]) {
    let size = 16;
    while (size < names.length * 4) size *= 2;
    this.keys = new Int32Array(size);
    this.names = new Array<string | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.longest = Math.max(...names.map((name) => name.length));
    for (const name of names) {
      const key = KnownNames.key(name, 0, name.length);
      let slot = key & this.mask;
      while (this.names[slot] !== undefined && this.keys[slot] !== key) slot = (slot + 1) & this.mask;
      if (this.names[slot] !== undefined) continue;
      this.keys[slot] = key;
      this.names[slot] = name;
    }
  }

  private static key(text: string, start: number, end: number): number {
    let key = end - start;
    for (let i = start; i < end; i++) key = (Math.imul(key, 31) + (text.charCodeAt(i) | 0x20)) | 0;
    return key;
  }

  /**
   * `find` for a range of the document: read in place from the latest piece, where nearly every range lies (no string
   * is made), else from the pieces joined.
   */
  findIn(doc: DocumentPieces, start: number, end: number): string | undefined {
    if (start >= doc.lastStart) return this.find(doc.last, start - doc.lastStart, end - doc.lastStart);
    const written = doc.slice(start, end);
    return this.find(written, 0, written.length);
  }

  /** The name that `html.slice(start, end)` is, ASCII case-insensitively, if it is one of these. */
  find(html: string, start: number, end: number): string | undefined {
    if (end - start > this.longest) return undefined;
    const key = KnownNames.key(html, start, end);
    for (let slot = key & this.mask; ; slot = (slot + 1) & this.mask) {
      const name = this.names[slot];
      if (name === undefined) return undefined;
      if (this.keys[slot] === key) return isName(html, start, end, name) ? name : undefined;
    }
  }
}
const KNOWN_TAG_NAMES = new KnownNames(KNOWN_TAGS);

/** `html.slice(start, end)` is `name` in ASCII case-insensitive terms. */
function isName(html: string, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = html.charCodeAt(start + i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** The attributes the streaming pass reads; the first of a name wins, as in the DOM. */
export interface Attributes {
  href?: string;
  lang?: string;
  name?: string;
  content?: string;
  rel?: string;
  color?: string;
  face?: string;
  size?: string;
}
type AttributeName = keyof Attributes;
/**
 * Their names: ASCII, so found in any ASCII case (`toLowerCase` folds no other character into one of these: only the
 * Kelvin sign becomes an ASCII letter, k).
 */
const ATTRIBUTE_NAMES = new KnownNames(['href', 'lang', 'name', 'content', 'rel', 'color', 'face', 'size']);
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * `text` as a string of its own. A slice of the document is a view that keeps the whole piece it was cut from alive,
 * and attribute values outlive their tag (a page's hrefs outlive the scan): every piece that holds one would survive
 * each young-generation collection during the scan, to be copied and then moved to the old generation. Joining makes
 * a new string that `slice` then cuts from.
 */
const detached = (text: string): string => (' ' + text).slice(1);

export abstract class TagEvents implements TokenizerCallbacks {
  /** htmlparser2's stack of open elements, innermost last (void elements never on it). */
  private readonly stack: string[] = [];
  /** Whether `/>` closes an element here: innermost last (htmlparser2's `foreignContext`; it may run empty). */
  private readonly foreignContext: boolean[] = [false];
  private tagName = '';
  private opening = false;
  /** The attributes being read, for a start tag of `attributeTags`; else null, and attributes are skipped. */
  private attributes: Attributes | null = null;
  private attributeName: AttributeName | null = null;
  private attributeValue = '';

  constructor(
    /** The document, as far as the tokenizer has been given it. */
    protected readonly doc: DocumentPieces,
    /** The start tags whose attributes the subclass reads. */
    private readonly attributeTags: ReadonlySet<string>,
  ) {}

  /** A start tag, with its attributes if it is one of `attributeTags`; `implied` for `</p>` and `</br>`. */
  protected abstract openTag(name: string, attributes: Attributes, implied: boolean): void;
  /** An element closed; `implied` when no end tag of its own closed it (void elements included). */
  protected abstract closeTag(name: string, implied: boolean): void;
  /** An end tag as written, before it closes anything: htmlparser2 says nothing of one with no open element. */
  protected abstract endTagToken(name: string): void;
  /** Text: `doc.slice(start, end)`, as written. */
  protected abstract text(start: number, end: number): void;
  /** The character a character reference in text stands for. */
  protected abstract textEntity(text: string): void;
  /** A comment's content is `doc.slice(start, end)`. */
  protected abstract comment(start: number, end: number): void;
  /** A `<![CDATA[...]]>`, which htmlparser2 reports as the comment `[CDATA[...]]`. */
  protected abstract cdata(start: number, end: number): void;
  /** A doctype, other declaration or processing instruction. */
  protected abstract declaration(): void;

  private openElement(name: string): void {
    this.tagName = name;
    this.opening = true;
    const closes = OPEN_IMPLIES_CLOSE.get(name);
    if (closes) {
      const stack = this.stack;
      while (stack.length > 0 && closes.has(stack[stack.length - 1]!)) this.closeTag(stack.pop()!, true);
    }
    if (!VOID.has(name)) {
      this.stack.push(name);
      if (FOREIGN_CONTEXT.has(name)) this.foreignContext.push(true);
      else if (HTML_INTEGRATION.has(name)) this.foreignContext.push(false);
    }
  }

  private endOpenTag(implied: boolean): void {
    if (this.opening) {
      const attributes = this.attributes ?? NO_ATTRIBUTES;
      this.attributes = null;
      this.opening = false;
      this.openTag(this.tagName, attributes, implied);
    }
    if (VOID.has(this.tagName)) this.closeTag(this.tagName, true);
    this.tagName = '';
  }

  private closeCurrentTag(openImplied: boolean): void {
    const name = this.tagName;
    this.endOpenTag(openImplied);
    if (this.stack[this.stack.length - 1] === name) {
      this.stack.pop();
      this.closeTag(name, !openImplied);
    }
  }

  /**
   * A tag's name, lower-cased as htmlparser2 does (`toLowerCase`, so not only ASCII). A known name is found without
   * making a string, and is then the one string for it: no copy to lower-case, to hash for each table, to compare.
   */
  private nameOf(start: number, end: number): string {
    return KNOWN_TAG_NAMES.findIn(this.doc, start, end) ?? this.doc.slice(start, end).toLowerCase();
  }

  onopentagname(start: number, end: number): void {
    const name = this.nameOf(start, end);
    this.openElement(name);
    if (this.attributeTags.has(name)) this.attributes = {};
  }

  onopentagend(): void {
    this.endOpenTag(false);
  }

  onselfclosingtag(): void {
    if (this.foreignContext[this.foreignContext.length - 1]) this.closeCurrentTag(false);
    else this.endOpenTag(false);
  }

  onclosetag(start: number, end: number): void {
    const name = this.nameOf(start, end);
    this.endTagToken(name);
    if (FOREIGN_CONTEXT.has(name) || HTML_INTEGRATION.has(name)) this.foreignContext.pop();
    if (!VOID.has(name)) {
      const stack = this.stack;
      const at = stack.lastIndexOf(name);
      if (at !== -1) {
        while (stack.length > at) {
          const element = stack.pop()!;
          this.closeTag(element, stack.length !== at);
        }
      } else if (name === 'p') {
        this.openElement('p');
        this.closeCurrentTag(true);
      }
    } else if (name === 'br') {
      this.openTag('br', NO_ATTRIBUTES, true);
      this.closeTag('br', false);
    }
  }

  onattribname(start: number, end: number): void {
    if (this.attributes === null) return;
    const name = ATTRIBUTE_NAMES.findIn(this.doc, start, end) as AttributeName | undefined;
    this.attributeName = name !== undefined && this.attributes[name] === undefined ? name : null;
  }

  onattribdata(start: number, end: number): void {
    if (this.attributeName !== null) this.attributeValue += this.doc.slice(start, end);
  }

  onattribentity(codePoint: number): void {
    if (this.attributeName !== null) this.attributeValue += String.fromCodePoint(codePoint);
  }

  onattribend(_quote: QuoteType): void {
    if (this.attributeName === null) return;
    this.attributes![this.attributeName] = detached(this.attributeValue);
    this.attributeName = null;
    this.attributeValue = '';
  }

  ontext(start: number, end: number): void {
    this.text(start, end);
  }

  ontextentity(codePoint: number): void {
    this.textEntity(String.fromCodePoint(codePoint));
  }

  oncomment(start: number, end: number, endOffset: number): void {
    this.comment(start, end - endOffset);
  }

  oncdata(start: number, end: number, endOffset: number): void {
    this.cdata(start, end - endOffset);
  }

  ondeclaration(): void {
    this.declaration();
  }

  onprocessinginstruction(): void {
    this.declaration();
  }

  /** htmlparser2 closes what is still open at the end; a browser just stops, so nothing is reported. */
  onend(): void {}
}
