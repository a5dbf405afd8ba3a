import { describe, expect, it } from 'vitest';
import {
  charsetParam,
  decodeBytes,
  decodeDocument,
  encodingForLabel,
  extractCharsetFromContent,
  findMetaCharset,
  sniffEncoding,
  xmlDeclarationEncoding,
} from '../../functions/core/parse/decode.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('encodingForLabel', () => {
  it('maps WHATWG labels to canonical names', () => {
    expect(encodingForLabel('utf8')).toBe('UTF-8');
    expect(encodingForLabel('sjis')).toBe('Shift_JIS');
    expect(encodingForLabel('latin1')).toBe('windows-1252');
    expect(encodingForLabel('ISO-8859-1')).toBe('windows-1252');
    expect(encodingForLabel('euc-jp')).toBe('EUC-JP');
    expect(encodingForLabel(' GB2312 ')).toBe('GBK');
    expect(encodingForLabel('no-such-encoding')).toBeNull();
  });
});

describe('sniffEncoding: BOM, then HTTP charset, then <meta>, then XML declaration, then windows-1252', () => {
  it('a BOM wins over everything', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...ascii('<meta charset="shift_jis">')]);
    expect(sniffEncoding(bytes, 'text/html; charset=windows-1252')).toEqual({ encoding: 'UTF-8', source: 'bom', bomLength: 3 });
    expect(sniffEncoding(new Uint8Array([0xff, 0xfe, 0x3c, 0]), null).encoding).toBe('UTF-16LE');
    expect(sniffEncoding(new Uint8Array([0xfe, 0xff, 0, 0x3c]), null).encoding).toBe('UTF-16BE');
  });

  it('the HTTP charset wins over <meta>', () => {
    expect(sniffEncoding(ascii('<meta charset="shift_jis">'), 'text/html; charset="EUC-JP"')).toMatchObject({ encoding: 'EUC-JP', source: 'http' });
  });

  it('an unknown HTTP charset is ignored', () => {
    expect(sniffEncoding(ascii('<meta charset="shift_jis">'), 'text/html; charset=bogus')).toMatchObject({ encoding: 'Shift_JIS', source: 'meta' });
  });

  it('falls back to windows-1252', () => {
    expect(sniffEncoding(ascii('<p>hello</p>'), 'text/html')).toMatchObject({ encoding: 'windows-1252', source: 'default' });
  });

  // Checked against Chromium 156: the XML declaration counts for HTML, and a <meta> overrides it.
  it('reads an XML declaration at the very start, below <meta>', () => {
    expect(sniffEncoding(ascii('<?xml version="1.0" encoding="Shift_JIS"?><title>x</title>'), 'text/html')).toMatchObject({ encoding: 'Shift_JIS', source: 'xml-declaration' });
    expect(sniffEncoding(ascii('<?xml version="1.0" encoding="Shift_JIS"?><meta charset="euc-jp">'), 'text/html')).toMatchObject({ encoding: 'EUC-JP', source: 'meta' });
    expect(xmlDeclarationEncoding(ascii(' <?xml version="1.0" encoding="Shift_JIS"?>'))).toBeNull();
    expect(xmlDeclarationEncoding(ascii("<?xml version='1.0' encoding='utf-16'?>"))).toBe('UTF-8');
  });
});

const pad = `<!--${'x'.repeat(1100)}-->`;

describe('findMetaCharset: the first usable <meta>, as Chromium finds it', () => {
  it.each([
    ['<meta charset="utf-8">', 'UTF-8'],
    ["<META CHARSET='Shift_JIS'>", 'Shift_JIS'],
    ['<meta charset=euc-jp>', 'EUC-JP'],
    ['<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">', 'ISO-8859-2'],
    ['<meta content="text/html; charset=koi8-r" http-equiv="content-type">', 'KOI8-R'],
    ['<meta charset="utf-16le">', 'UTF-8'],
    ['<meta charset="x-user-defined">', 'windows-1252'],
    ['<meta charset=" shift_jis ">', 'Shift_JIS'],
  ])('%s → %s', (html, expected) => {
    expect(findMetaCharset(ascii(html))).toBe(expected);
  });

  it.each([
    ['a content charset without http-equiv', '<meta content="text/html; charset=koi8-r">'],
    ['a charset inside a comment', '<!-- <meta charset="utf-8"> -->'],
    ['a charset inside a script', '<script>document.write(\'<meta charset="utf-8">\')</script>'],
    ["a charset in another tag's attribute", '<div data-x=\'<meta charset="utf-8">\'></div>'],
    ['an unknown label', '<meta charset="klingon">'],
    ['a value= attribute instead of content=', '<meta http-equiv="Content-Type" value="text/html; charset=EUC-JP">'],
  ])('ignores %s', (_, html) => {
    expect(findMetaCharset(ascii(html))).toBeNull();
  });

  it('takes the first usable <meta>', () => {
    expect(findMetaCharset(ascii('<meta charset="bogus"><meta charset="windows-1251"><meta charset="utf-8">'))).toBe('windows-1251');
  });

  // Past the first 1024 bytes the standard would still switch on any <meta> the parser meets; Chromium 156 only
  // while nothing but head elements has been seen. These four are Chromium's answers.
  it.each([
    ['in the head after a long comment', `<head>${pad}<meta charset=shift_jis>`, 'Shift_JIS'],
    ['in the head after a long script', `<head><script>${'x'.repeat(1100)}</script><meta charset=shift_jis>`, 'Shift_JIS'],
    ['with http-equiv in the head', `<head>${pad}<meta http-equiv=content-type content="text/html; charset=shift_jis">`, 'Shift_JIS'],
    ['after a bogus one', `<head><meta charset=bogus>${pad}<meta charset=shift_jis>`, 'Shift_JIS'],
  ])('switches for a later <meta> %s', (_, html, expected) => {
    expect(findMetaCharset(ascii(html))).toBe(expected);
  });

  it.each([
    ['after </head>', `<head><title>x</title></head>${pad}<meta charset=shift_jis>`],
    ['after a body element', `<head><div>${'x'.repeat(1100)}</div><meta charset=shift_jis>`],
    ['in the body', `<body><p>${'x'.repeat(1100)}</p><meta charset=shift_jis>`],
  ])('ignores a <meta> past 1024 bytes %s', (_, html) => {
    expect(findMetaCharset(ascii(html))).toBeNull();
  });
});

describe('extractCharsetFromContent', () => {
  it('reads quoted and bare values', () => {
    expect(extractCharsetFromContent('text/html; charset=utf-8')).toBe('utf-8');
    expect(extractCharsetFromContent('text/html;charset="big5"')).toBe('big5');
    expect(extractCharsetFromContent('text/html; charset =  sjis ; x')).toBe('sjis');
    expect(extractCharsetFromContent('text/html')).toBeNull();
  });
});

describe('charsetParam', () => {
  it('reads the charset parameter of a Content-Type', () => {
    expect(charsetParam('text/html; charset=UTF-8')).toBe('UTF-8');
    expect(charsetParam('text/html;charset="shift_jis"')).toBe('shift_jis');
    expect(charsetParam('text/html')).toBeNull();
    expect(charsetParam(null)).toBeNull();
  });
});

describe('decodeDocument', () => {
  it('decodes Shift_JIS declared in <meta>', () => {
    // "日本" in Shift_JIS is 93 FA 96 7B.
    const bytes = new Uint8Array([...ascii('<meta charset="shift_jis"><title>'), 0x93, 0xfa, 0x96, 0x7b, ...ascii('</title>')]);
    const doc = decodeDocument(bytes, 'text/html');
    expect(doc.charset).toBe('Shift_JIS');
    expect(doc.text).toContain('<title>日本</title>');
  });

  it('re-decodes the whole page when a later <meta> in the head names the encoding', () => {
    const bytes = new Uint8Array([...ascii(`<head>${pad}<meta charset="shift_jis"><title>`), 0x93, 0xfa, 0x96, 0x7b, ...ascii('</title>')]);
    const doc = decodeDocument(bytes, 'text/html');
    expect(doc).toMatchObject({ charset: 'Shift_JIS', source: 'meta' });
    expect(doc.text).toContain('<title>日本</title>');
  });

  it('decodes windows-1252 by default, so 0x93 is a curly quote', () => {
    expect(decodeDocument(new Uint8Array([0x93, 0x68, 0x69, 0x94]), null).text).toBe('\u201chi\u201d');
  });

  it('strips the BOM it used', () => {
    expect(decodeDocument(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]), null).text).toBe('A');
  });
});

describe('decodeBytes', () => {
  it('maps every windows-1252 byte per the WHATWG index (Node 20 decodes it as Latin-1)', () => {
    expect(decodeBytes(new Uint8Array([0x80, 0x8a, 0x99, 0x9f, 0x81, 0xe9]), 'windows-1252')).toBe('€Š™Ÿ\u0081é');
  });

  it('decodes x-user-defined into the private-use range', () => {
    expect(decodeBytes(new Uint8Array([0x41, 0x80, 0xff]), 'x-user-defined')).toBe('A\uf780\uf7ff');
  });

  it('replaces malformed UTF-8 with U+FFFD instead of failing', () => {
    expect(decodeBytes(new Uint8Array([0x61, 0xff, 0x62]), 'UTF-8')).toBe('a\ufffdb');
  });
});

describe('pages in WHATWG encodings decode right, declared by <meta> or by HTTP', () => {
  // Bytes produced by Python's codecs, an encoder independent of the decoder under test.
  it.each([
    ['Shift_JIS', '日本語', '93fa967b8cea'],
    ['EUC-JP', '日本語', 'c6fccbdcb8ec'],
    ['ISO-2022-JP', '日本語', '1b2442467c4b5c386c1b2842'],
    ['GBK', '中文网页', 'd6d0cec4cdf8d2b3'],
    ['gb18030', '中文网页', 'd6d0cec4cdf8d2b3'],
    ['Big5', '中文網頁', 'a4a4a4e5baf4adb6'],
    ['EUC-KR', '한국어', 'c7d1b1b9beee'],
    ['KOI8-R', 'Привет', 'f0d2c9d7c5d4'],
    ['KOI8-U', 'Україна', 'f5cbd2c1a7cec1'],
    ['IBM866', 'Привет', '8fe0a8a2a5e2'],
    ['windows-1251', 'Привет', 'cff0e8e2e5f2'],
    ['ISO-8859-2', 'Zażółć', '5a61bff3b3e6'],
    ['windows-1250', 'Zażółć', '5a61bff3b3e6'],
    ['ISO-8859-7', 'Ελληνικά', 'c5ebebe7ede9eadc'],
    ['windows-1253', 'Ελληνικά', 'c5ebebe7ede9eadc'],
    ['windows-1254', 'Türkçe ğ', '54fc726be76520f0'],
    ['windows-1256', 'العربية', 'c7e1dad1c8edc9'],
    ['ISO-8859-8', 'עברית', 'f2e1f8e9fa'],
    ['windows-874', 'ภาษาไทย', 'c0d2c9d2e4b7c2'],
    ['windows-1258', 'Tiê', '5469ea'],
    ['macintosh', 'Café ß', '4361668e20a7'],
  ])('%s: %s', (encoding, text, hex) => {
    const body = Buffer.concat([Buffer.from(`<meta charset="${encoding}"><title>`), Buffer.from(hex, 'hex'), Buffer.from('</title>')]);
    const fromMeta = decodeDocument(body, 'text/html');
    expect(fromMeta).toMatchObject({ charset: encoding, source: 'meta' });
    expect(fromMeta.text).toContain(`<title>${text}</title>`);
    const fromHttp = decodeDocument(Buffer.concat([Buffer.from('<title>'), Buffer.from(hex, 'hex')]), `text/html; charset=${encoding}`);
    expect(fromHttp).toMatchObject({ charset: encoding, source: 'http', text: `<title>${text}` });
  });

  it('UTF-16 by BOM', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<title>日本</title>', 'utf16le')]);
    expect(decodeDocument(le, 'text/html')).toMatchObject({ charset: 'UTF-16LE', text: '<title>日本</title>' });
    const be = Buffer.from(le.subarray(2)).swap16();
    expect(decodeDocument(Buffer.concat([Buffer.from([0xfe, 0xff]), be]), 'text/html')).toMatchObject({ charset: 'UTF-16BE', text: '<title>日本</title>' });
  });
});
