import { Parser } from 'htmlparser2';

/**
 * Finding a document's encoding as a browser does, and decoding with it: a BOM, else the HTTP charset, else a
 * <meta> charset, else an XML declaration, else windows-1252. Node's TextDecoder (full ICU) knows every WHATWG
 * encoding and label.
 *
 * The <meta> rule is Chromium's, checked against Chromium 156: the standard's prescan looks at the first 1024 bytes,
 * and a <meta> met later while the encoding is tentative switches it. Chromium tokenizes the bytes (so a <meta> in a
 * script or comment does not count) and takes the first usable <meta> in the first 1024 bytes or, after that, for as
 * long as only head elements have been seen. A <meta> in the body past 1024 bytes changes nothing, although the
 * standard would switch. The XML declaration (`<?xml ... encoding="..."?>` at the very start) is also Chromium's;
 * a <meta> overrides it.
 */

/** WHATWG encoding names as the standard spells them; TextDecoder reports them in lower case. */
const CANONICAL_NAMES = [
  'UTF-8', 'IBM866', 'ISO-8859-2', 'ISO-8859-3', 'ISO-8859-4', 'ISO-8859-5', 'ISO-8859-6', 'ISO-8859-7',
  'ISO-8859-8', 'ISO-8859-8-I', 'ISO-8859-10', 'ISO-8859-13', 'ISO-8859-14', 'ISO-8859-15', 'ISO-8859-16',
  'KOI8-R', 'KOI8-U', 'macintosh', 'windows-874', 'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253',
  'windows-1254', 'windows-1255', 'windows-1256', 'windows-1257', 'windows-1258', 'x-mac-cyrillic', 'GBK',
  'gb18030', 'Big5', 'EUC-JP', 'ISO-2022-JP', 'Shift_JIS', 'EUC-KR', 'replacement', 'UTF-16BE', 'UTF-16LE',
  'x-user-defined',
];
const canonicalByLower = new Map(CANONICAL_NAMES.map((name) => [name.toLowerCase(), name]));

/** The WHATWG name for a label (`"sjis"` → `"Shift_JIS"`), or null when the label names no encoding. */
export function encodingForLabel(label: string): string | null {
  // Node's TextDecoder does not implement x-user-defined; it is a WHATWG encoding all the same.
  if (label.trim().toLowerCase() === 'x-user-defined') return 'x-user-defined';
  try {
    const lower = new TextDecoder(label.trim()).encoding;
    return canonicalByLower.get(lower) ?? null;
  } catch {
    return null;
  }
}

export type EncodingSource = 'bom' | 'http' | 'meta' | 'xml-declaration' | 'default';
export interface SniffedEncoding {
  encoding: string;
  source: EncodingSource;
  /** How many BOM bytes to skip. */
  bomLength: number;
}

function sniffBom(bytes: Uint8Array): SniffedEncoding | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'UTF-8', source: 'bom', bomLength: 3 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'UTF-16BE', source: 'bom', bomLength: 2 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'UTF-16LE', source: 'bom', bomLength: 2 };
  return null;
}

/** The charset parameter of a Content-Type header, if any. */
export function charsetParam(contentType: string | null | undefined): string | null {
  if (!contentType) return null;
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType);
  return match?.[2] ? match[2] : null;
}

export function sniffEncoding(bytes: Uint8Array, contentType: string | null | undefined): SniffedEncoding {
  const bom = sniffBom(bytes);
  if (bom) return bom;
  const httpLabel = charsetParam(contentType);
  const fromHttp = httpLabel ? encodingForLabel(httpLabel) : null;
  if (fromHttp) return { encoding: fromHttp, source: 'http', bomLength: 0 };
  const fromMeta = findMetaCharset(bytes);
  if (fromMeta) return { encoding: fromMeta, source: 'meta', bomLength: 0 };
  const fromXml = xmlDeclarationEncoding(bytes);
  if (fromXml) return { encoding: fromXml, source: 'xml-declaration', bomLength: 0 };
  return { encoding: 'windows-1252', source: 'default', bomLength: 0 };
}

export interface DecodedDocument {
  text: string;
  charset: string;
  source: EncodingSource;
}

export function decodeDocument(bytes: Uint8Array, contentType: string | null | undefined): DecodedDocument {
  const sniffed = sniffEncoding(bytes, contentType);
  return { text: decodeBytes(bytes.subarray(sniffed.bomLength), sniffed.encoding), charset: sniffed.encoding, source: sniffed.source };
}

/** A document's text, decoded a piece at a time as its pieces are taken (see `decodeInPieces`). */
export interface DocumentText {
  charset: string;
  source: EncodingSource;
  /** The text in pieces, each decoded as it is taken; taken again, they are decoded again. */
  pieces: Iterable<string>;
  /** The whole text at once. */
  whole(): string;
}

/** Pieces are cut at the first `<` this many bytes or more into them (tests cut smaller ones). */
export const PIECE_BYTES = 32 * 1024;

/**
 * `decodeDocument`, with the text in pieces: `pieces` joined is `text`. A whole page's text is one string that V8
 * puts in a space of its own, on fresh memory from the system for each page, which it then has to fault in, page
 * by page; pieces this size are made in the young generation, as any small string, and most of them die there.
 */
export function decodeInPieces(bytes: Uint8Array, contentType: string | null | undefined, pieceBytes = PIECE_BYTES): DocumentText {
  const sniffed = sniffEncoding(bytes, contentType);
  const body = bytes.subarray(sniffed.bomLength);
  const encoding = sniffed.encoding;
  return {
    charset: encoding,
    source: sniffed.source,
    pieces: { [Symbol.iterator]: () => piecesOf(body, encoding, pieceBytes) },
    whole: () => decodeBytes(body, encoding),
  };
}

const LT = 0x3c;

/**
 * The bytes decoded in pieces cut just before a `<`. Decoding each piece alone gives the same text as decoding them
 * together in UTF-8 and in windows-1252: in both a `<` byte is the character `<` and nothing else, and a UTF-8
 * sequence cut short by it is one U+FFFD either way. Other encodings are decoded whole (a `<` byte may sit inside a
 * character in some, and ISO-2022-JP has state). The cut falls before a tag, so the tokenizer splits no text of the
 * page's into two that it would not have split (only text in which a `<` does not start a tag: script, a comment).
 */
function* piecesOf(bytes: Uint8Array, encoding: string, pieceBytes: number): Generator<string> {
  if (encoding !== 'UTF-8' && encoding !== 'windows-1252') {
    yield decodeBytes(bytes, encoding);
    return;
  }
  const decoder = encoding === 'UTF-8' ? new TextDecoder('utf-8', { ignoreBOM: true }) : null;
  for (let at = 0; at < bytes.length; ) {
    let cut = at + pieceBytes >= bytes.length ? -1 : bytes.indexOf(LT, at + pieceBytes);
    if (cut < 0) cut = bytes.length;
    const piece = bytes.subarray(at, cut);
    yield decoder ? decoder.decode(piece) : decodeBytes(piece, encoding);
    at = cut;
  }
}

/**
 * windows-1252 bytes 0x80-0x9F per the WHATWG index. Node 20's TextDecoder takes a Latin-1 fast path for
 * windows-1252 and its labels (latin1, ascii, iso-8859-1), which turns “ into U+0093; so we map those 32 bytes here.
 */
const WINDOWS_1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Decodes bytes (without BOM) in a WHATWG encoding, replacing malformed sequences with U+FFFD. */
export function decodeBytes(bytes: Uint8Array, encoding: string): string {
  if (encoding === 'windows-1252') {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      .toString('latin1')
      .replace(/[\u0080-\u009f]/g, (c) => WINDOWS_1252_C1[c.charCodeAt(0) - 0x80]!);
  }
  if (encoding === 'x-user-defined') {
    let out = '';
    for (const b of bytes) out += String.fromCharCode(b < 0x80 ? b : 0xf780 + b - 0x80);
    return out;
  }
  return new TextDecoder(encoding, { ignoreBOM: true }).decode(bytes);
}

// ---------------------------------------------------------------------------------------------------------------
// <meta> charsets.

const isSpace = (c: number) => c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20;

/** "Extract a character encoding from a meta element" (the `content` attribute's `charset=`). */
export function extractCharsetFromContent(content: string): string | null {
  let pos = 0;
  const lowered = content.toLowerCase();
  for (;;) {
    const at = lowered.indexOf('charset', pos);
    if (at < 0) return null;
    pos = at + 7;
    while (isSpace(content.charCodeAt(pos))) pos++;
    if (content[pos] !== '=') continue;
    pos++;
    while (isSpace(content.charCodeAt(pos))) pos++;
    const q = content[pos];
    if (q === '"' || q === "'") {
      const end = content.indexOf(q, pos + 1);
      return end < 0 ? null : content.slice(pos + 1, end);
    }
    let end = pos;
    while (end < content.length && !isSpace(content.charCodeAt(end)) && content[end] !== ';') end++;
    return end > pos ? content.slice(pos, end) : null;
  }
}

/** A declared label as browsers take it from a document: UTF-16 means UTF-8, x-user-defined means windows-1252. */
function declaredEncoding(label: string): string | null {
  const encoding = encodingForLabel(label);
  if (encoding === 'UTF-16BE' || encoding === 'UTF-16LE') return 'UTF-8';
  if (encoding === 'x-user-defined') return 'windows-1252';
  return encoding;
}

/** The encoding a <meta> declares: `charset`, or `content` with `http-equiv=content-type`; first of the two wins. */
export function metaDeclaredEncoding(attribs: Record<string, string>): string | null {
  let pragma = false;
  let label: string | null = null;
  let needsPragma = false;
  for (const [name, value] of Object.entries(attribs)) {
    if (name === 'http-equiv') {
      if (value.toLowerCase() === 'content-type') pragma = true;
    } else if (label === null && name === 'charset') {
      label = value;
    } else if (label === null && name === 'content') {
      label = extractCharsetFromContent(value);
      needsPragma = label !== null;
    }
  }
  if (label === null || (needsPragma && !pragma)) return null;
  return declaredEncoding(label);
}

/** The tags that keep Chromium's <meta> scan "in the head" once past 1024 bytes. */
const HEAD_TAGS = new Set(['script', 'noscript', 'style', 'link', 'meta', 'object', 'title', 'base']);
const UNCONDITIONAL_BYTES = 1024;
const SCAN_CHUNK = 4096;

/** The first usable <meta> charset as Chromium finds it (see the top of this file), or null. */
export function findMetaCharset(bytes: Uint8Array): string | null {
  let found: string | null = null;
  let done = false;
  let inHead = true;
  const afterToken = () => {
    if (!inHead && parser.endIndex + 1 >= UNCONDITIONAL_BYTES) done = true;
  };
  const parser = new Parser({
    onopentag(name, attribs) {
      if (done) return;
      if (name === 'meta') {
        found = metaDeclaredEncoding(attribs);
        if (found) {
          done = true;
          return;
        }
      }
      if (!HEAD_TAGS.has(name) && name !== 'html' && name !== 'head') inHead = false;
      afterToken();
    },
    onclosetag(name, implied) {
      if (done || implied) return;
      if (!HEAD_TAGS.has(name)) inHead = false;
      afterToken();
    },
    ontext: () => !done && afterToken(),
    oncomment: () => !done && afterToken(),
  });
  // Bytes as Latin-1 keep every offset equal to a byte offset; tags and attributes that matter here are ASCII.
  // Chunk by chunk, so a large page is not copied whole when the answer is in its head.
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < buffer.length && !done; at += SCAN_CHUNK) parser.write(buffer.toString('latin1', at, at + SCAN_CHUNK));
  return found;
}

/** The encoding named by an XML declaration at the very start of the document, as Chromium honours it for HTML. */
export function xmlDeclarationEncoding(bytes: Uint8Array): string | null {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024)).toString('latin1');
  if (!head.startsWith('<?xml')) return null;
  const end = head.indexOf('?>');
  const match = /\sencoding\s*=\s*(["'])([^"']*)\1/.exec(end < 0 ? head : head.slice(0, end));
  return match ? declaredEncoding(match[2]!) : null;
}
