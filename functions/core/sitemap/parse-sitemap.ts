// A sitemap read as it arrives, in bounded memory: an XML sitemap (urlset), a sitemap index (sitemapindex), or a text
// sitemap (one URL a line), as sitemaps.org describes them; the format is sniffed from the first bytes, not trusted to
// the Content-Type. Each entry is handed to the caller as soon as its </loc> (or line end) is read.
//
// htmlparser2 (already the page parser's tokenizer) in XML mode: streaming, lenient with the broken XML sitemaps the
// web is full of, decodes XML's entities and CDATA. It keeps text in pieces, but a token it has not finished (a tag,
// a comment, a CDATA section, an attribute value) is kept whole until it ends: MAX_TOKEN_BYTES bounds that, so a
// hostile body cannot make one token hold the whole document.
import { Parser } from 'htmlparser2';
import { MAX_URL_LENGTH } from '../model/limits.js';

export type SitemapFormat = 'urlset' | 'sitemapindex' | 'text' | 'unknown';

/** What one entry names: a page to crawl (in a urlset or a text sitemap), or another sitemap (in an index). */
export interface SitemapEntry {
  kind: 'page' | 'sitemap';
  /** The <loc> text (entities and CDATA decoded, surrounding whitespace removed) or the line; not yet resolved. */
  loc: string;
}

/** Input read with no parser event at all (one unfinished tag, comment, CDATA section…): past it the sitemap is refused. */
export const MAX_TOKEN_BYTES = 1024 * 1024;
/** A <loc> or a line longer than this is skipped (longer than any URL we accept, with room for whitespace). */
const MAX_LOC_CHARS = MAX_URL_LENGTH + 1024;

/** The sitemap is not one: a token larger than MAX_TOKEN_BYTES. */
export class SitemapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SitemapFormatError';
  }
}

/**
 * Namespaces whose elements are the sitemap protocol's: sitemaps.org's (http or https, as written in the wild) and
 * Google's older ones. Elements of other namespaces (image:loc, video:content_loc, xhtml:link) are not entries.
 */
const SITEMAP_NAMESPACE = /^https?:\/\/(www\.)?(sitemaps\.org\/schemas\/sitemap\/|google\.com\/schemas\/sitemap\/)/i;

interface Element {
  local: string;
  /** The protocol's element: its namespace is the sitemap one, or none is declared. */
  ours: boolean;
  /** Prefix → namespace declared on this element (null when it declares none). */
  declared: Map<string, string> | null;
}

/**
 * Feeds bytes in with write(), then end(). Entries come out through `onEntry` while writing; `format` says what the
 * document turned out to be once its first bytes are in.
 */
export class SitemapParser {
  format: SitemapFormat = 'unknown';
  /** Bytes written so far. */
  bytes = 0;
  private readonly decoder = new TextDecoder('utf-8');
  private xml: Parser | null = null;
  private sniffed = '';
  private stack: Element[] = [];
  private loc: string | null = null;
  private line = '';
  private lineTooLong = false;
  private sinceEvent = 0;

  constructor(private readonly onEntry: (entry: SitemapEntry) => void) {}

  write(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    const text = this.decoder.decode(chunk, { stream: true });
    if (text.length > 0) this.feed(text, chunk.length);
  }

  end(): void {
    const rest = this.decoder.decode();
    if (rest.length > 0) this.feed(rest, 0);
    if (this.xml) this.xml.end();
    else if (this.format === 'text') this.endLine();
  }

  private feed(text: string, byteLength: number): void {
    if (this.xml === null && this.format === 'unknown') {
      // The first character that is not whitespace decides: '<' is XML, anything else a text sitemap.
      this.sniffed += text;
      if (this.sniffed.trimStart().length === 0) return;
      this.start(this.sniffed);
      return;
    }
    this.take(text, byteLength);
  }

  private start(text: string): void {
    this.sniffed = '';
    if (text.trimStart().startsWith('<')) this.xml = new Parser(this.handler(), { xmlMode: true, decodeEntities: true, recognizeCDATA: true });
    else this.format = 'text';
    this.take(text, Buffer.byteLength(text));
  }

  private take(text: string, byteLength: number): void {
    if (this.xml) {
      this.sinceEvent += byteLength;
      this.xml.write(text);
      if (this.sinceEvent > MAX_TOKEN_BYTES) {
        throw new SitemapFormatError(`more than ${MAX_TOKEN_BYTES} bytes without a complete XML token`);
      }
    } else {
      this.lines(text);
    }
  }

  private lines(text: string): void {
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const piece = text.slice(from, nl === -1 ? text.length : nl);
      if (!this.lineTooLong) {
        if (this.line.length + piece.length > MAX_LOC_CHARS) {
          this.lineTooLong = true;
          this.line = '';
        } else this.line += piece;
      }
      if (nl === -1) return;
      this.endLine();
      from = nl + 1;
    }
  }

  private endLine(): void {
    const url = this.lineTooLong ? '' : this.line.trim();
    this.line = '';
    this.lineTooLong = false;
    if (url !== '') this.onEntry({ kind: 'page', loc: url });
  }

  private namespaceOf(prefix: string): string | undefined {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const ns = this.stack[i]!.declared?.get(prefix);
      if (ns !== undefined) return ns;
    }
    return undefined;
  }

  private handler() {
    const event = () => {
      this.sinceEvent = 0;
    };
    return {
      onopentag: (name: string, attribs: Record<string, string>) => {
        event();
        let declared: Map<string, string> | null = null;
        for (const [attr, value] of Object.entries(attribs)) {
          if (attr === 'xmlns') (declared ??= new Map()).set('', value);
          else if (attr.startsWith('xmlns:')) (declared ??= new Map()).set(attr.slice(6), value);
        }
        const colon = name.indexOf(':');
        const prefix = colon === -1 ? '' : name.slice(0, colon);
        const local = (colon === -1 ? name : name.slice(colon + 1)).toLowerCase();
        const element: Element = { local, ours: true, declared };
        this.stack.push(element);
        // A bound namespace other than the protocol's makes it someone else's element; an unbound prefix or no
        // namespace at all is taken as the protocol's (sitemaps without xmlns are common).
        const ns = this.namespaceOf(prefix);
        element.ours = ns === undefined || ns === '' || SITEMAP_NAMESPACE.test(ns);
        if (this.stack.length === 1 && element.ours && (local === 'urlset' || local === 'sitemapindex')) this.format = local;
        if (this.isLoc()) this.loc = '';
      },
      ontext: (text: string) => {
        event();
        if (this.loc !== null && this.loc.length <= MAX_LOC_CHARS) this.loc += text;
      },
      onclosetag: () => {
        event();
        if (this.loc !== null && this.isLoc()) {
          const loc = this.loc.length > MAX_LOC_CHARS ? '' : this.loc.trim();
          this.loc = null;
          if (loc !== '') this.onEntry({ kind: this.format === 'sitemapindex' ? 'sitemap' : 'page', loc });
        }
        this.stack.pop();
      },
      oncomment: event,
      oncdatastart: event,
      oncdataend: event,
      onprocessinginstruction: event,
    };
  }

  /** Whether the open element is an entry's <loc>: urlset > url > loc, or sitemapindex > sitemap > loc. */
  private isLoc(): boolean {
    if (this.stack.length !== 3) return false;
    const [root, entry, loc] = this.stack as [Element, Element, Element];
    if (!root.ours || !entry.ours || !loc.ours || loc.local !== 'loc') return false;
    return (root.local === 'urlset' && entry.local === 'url') || (root.local === 'sitemapindex' && entry.local === 'sitemap');
  }
}
