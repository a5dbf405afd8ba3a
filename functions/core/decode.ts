/**
 * Finding a document's encoding as the HTML standard's "encoding sniffing algorithm" does, and decoding with it:
 * a BOM, else the HTTP charset, else a <meta> charset in the first 1024 bytes (the "prescan"), else windows-1252.
 * Node's TextDecoder (full ICU) knows every WHATWG encoding and label.
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

export type EncodingSource = 'bom' | 'http' | 'meta' | 'default';
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
  const fromMeta = prescanForMetaCharset(bytes.subarray(0, 1024));
  if (fromMeta) return { encoding: fromMeta, source: 'meta', bomLength: 0 };
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
// The prescan (HTML standard, "prescan a byte stream to determine its encoding").

const isSpace = (b: number | undefined) => b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;
const isAsciiAlpha = (b: number | undefined) => b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
const lower = (b: number) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b);

function startsWithCI(bytes: Uint8Array, at: number, ascii: string): boolean {
  for (let i = 0; i < ascii.length; i++) {
    const b = bytes[at + i];
    if (b === undefined || lower(b) !== ascii.charCodeAt(i)) return false;
  }
  return true;
}

interface Attribute {
  name: string;
  value: string;
  next: number;
}

/** "Get an attribute": reads one attribute at `pos`, or returns null at the end of the tag. */
function getAttribute(bytes: Uint8Array, start: number): Attribute | null {
  let pos = start;
  while (isSpace(bytes[pos]) || bytes[pos] === 0x2f) pos++;
  if (pos >= bytes.length || bytes[pos] === 0x3e) return null;
  let name = '';
  let value = '';
  // Attribute name.
  for (;;) {
    const b = bytes[pos];
    if (b === undefined) return null;
    if (b === 0x3d && name !== '') {
      pos++;
      break;
    }
    if (isSpace(b)) {
      while (isSpace(bytes[pos])) pos++;
      if (bytes[pos] !== 0x3d) return { name, value: '', next: pos };
      pos++;
      break;
    }
    if (b === 0x2f || b === 0x3e) return { name, value: '', next: pos };
    name += String.fromCharCode(lower(b));
    pos++;
  }
  while (isSpace(bytes[pos])) pos++;
  const quote = bytes[pos];
  if (quote === 0x22 || quote === 0x27) {
    pos++;
    for (;;) {
      const b = bytes[pos];
      if (b === undefined) return null;
      pos++;
      if (b === quote) return { name, value, next: pos };
      value += String.fromCharCode(lower(b));
    }
  }
  if (quote === 0x3e) return { name, value: '', next: pos };
  for (;;) {
    const b = bytes[pos];
    if (b === undefined) return null;
    if (isSpace(b) || b === 0x3e) return { name, value, next: pos };
    value += String.fromCharCode(lower(b));
    pos++;
  }
}

/** "Extract a character encoding from a meta element" (the `content` attribute's `charset=`). */
export function extractCharsetFromContent(content: string): string | null {
  let pos = 0;
  for (;;) {
    const at = content.toLowerCase().indexOf('charset', pos);
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

/** A <meta> charset label as the prescan takes it: UTF-16 means UTF-8, x-user-defined means windows-1252. */
function metaEncoding(label: string): string | null {
  const encoding = encodingForLabel(label);
  if (encoding === 'UTF-16BE' || encoding === 'UTF-16LE') return 'UTF-8';
  if (encoding === 'x-user-defined') return 'windows-1252';
  return encoding;
}

export function prescanForMetaCharset(bytes: Uint8Array): string | null {
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0x3c) {
      pos++;
      continue;
    }
    if (startsWithCI(bytes, pos, '<!--')) {
      const end = findSequence(bytes, pos + 2, [0x2d, 0x2d, 0x3e]);
      if (end < 0) return null;
      pos = end + 3;
      continue;
    }
    if (startsWithCI(bytes, pos, '<meta') && (isSpace(bytes[pos + 5]) || bytes[pos + 5] === 0x2f)) {
      const found = readMeta(bytes, pos + 5);
      if (found.encoding) return found.encoding;
      pos = found.next;
      continue;
    }
    if ((bytes[pos + 1] === 0x2f && isAsciiAlpha(bytes[pos + 2])) || isAsciiAlpha(bytes[pos + 1])) {
      // Any other start or end tag: skip its name, then its attributes.
      pos += bytes[pos + 1] === 0x2f ? 2 : 1;
      while (pos < bytes.length && !isSpace(bytes[pos]) && bytes[pos] !== 0x3e) pos++;
      for (;;) {
        const attr = getAttribute(bytes, pos);
        if (!attr) break;
        pos = attr.next;
      }
      pos++;
      continue;
    }
    if (bytes[pos + 1] === 0x21 || bytes[pos + 1] === 0x2f || bytes[pos + 1] === 0x3f) {
      const end = bytes.indexOf(0x3e, pos + 1);
      if (end < 0) return null;
      pos = end + 1;
      continue;
    }
    pos++;
  }
  return null;
}

function readMeta(bytes: Uint8Array, start: number): { encoding: string | null; next: number } {
  const seen = new Set<string>();
  let gotPragma = false;
  let needPragma: boolean | null = null;
  let charset: string | null = null;
  let pos = start;
  for (;;) {
    const attr = getAttribute(bytes, pos);
    if (!attr) break;
    pos = attr.next;
    if (seen.has(attr.name)) continue;
    seen.add(attr.name);
    if (attr.name === 'http-equiv' && attr.value === 'content-type') gotPragma = true;
    else if (attr.name === 'content' && charset === null) {
      const label = extractCharsetFromContent(attr.value);
      if (label !== null) {
        charset = metaEncoding(label);
        needPragma = true;
      }
    } else if (attr.name === 'charset') {
      charset = metaEncoding(attr.value);
      needPragma = false;
    }
  }
  const next = pos + 1;
  if (needPragma === null || (needPragma && !gotPragma) || charset === null) return { encoding: null, next };
  return { encoding: charset, next };
}

function findSequence(bytes: Uint8Array, from: number, seq: number[]): number {
  outer: for (let i = from; i <= bytes.length - seq.length; i++) {
    for (let j = 0; j < seq.length; j++) if (bytes[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}
