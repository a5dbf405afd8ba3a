import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePage } from '../../functions/core/parse/parse-page.js';
import { scanHtml, SLICE_CHARS } from '../../functions/core/parse/streaming-pass.js';
import { TextHash } from '../../functions/core/parse/text-hash.js';
import { scanTree } from '../../functions/core/parse/tree-builder.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hashOfPieces = (pieces: string[]) => {
  const hash = new TextHash();
  for (const piece of pieces) hash.add(piece);
  return hash.digest();
};

/** The text hash by both parsers; the streaming pass must keep the page (else it would test the tree builder twice). */
async function textHashes(html: string): Promise<{ stream: string; tree: string }> {
  const scanned = await scanHtml(html);
  if ('needsTreeBuilder' in scanned) throw new Error(`the streaming pass gave up: ${scanned.needsTreeBuilder}`);
  return { stream: scanned.textHash, tree: (await scanTree(html)).textHash };
}

async function textHash(html: string): Promise<string> {
  const { stream, tree } = await textHashes(html);
  expect(stream).toBe(tree);
  return stream;
}

describe('TextHash: ASCII whitespace collapsed and stripped, hashed as pieces arrive', () => {
  it('collapses runs across pieces and strips both ends', () => {
    expect(hashOfPieces(['  one \n', '\t two', 'three ', '  ', ' four\r\n'])).toBe(sha256('one twothree four'));
    expect(hashOfPieces(['one', ' ', 'two'])).toBe(sha256('one two'));
    expect(hashOfPieces([' \n ', ''])).toBe(sha256(''));
  });

  it('keeps non-ASCII whitespace: a no-break space is text', () => {
    expect(hashOfPieces(['\u00a0one\u00a0 two '])).toBe(sha256('\u00a0one\u00a0 two'));
  });

  it('keeps a surrogate pair whole when a batch ends between its halves', () => {
    const pieces = ['a'.repeat(16 * 1024 - 1) + '\ud83d', '\ude00 end'];
    expect(hashOfPieces(pieces)).toBe(sha256(pieces.join('')));
  });
});

/** Each expected text here is what headless Chromium 156 (scripting off) gave for the document. */
describe('textHash: the body text as a browser has it', () => {
  it.each([
    ['script, style, template and comments are not text', '<p>one<script>var x = 1</script><style>p{}</style><template>t</template><!-- c -->two', 'onetwo'],
    ['an SVG <style> and <script> are not text either', '<p>a<svg><style>x</style><script>y</script><text>b</text></svg>', 'ab'],
    ['the head is not the body', '<head><title>T</title><meta name=x content=y></head><body> text ', 'text'],
    ['noscript holds markup with scripting off, and its text counts', '<body><noscript><p>no script</p></noscript>', 'no script'],
    ['text in the head starts the body', '<head><title>T</title>Hello<p>world', 'Helloworld'],
    ['a title after the body starts is in the body', '<body>a<title>b</title>', 'ab'],
    ['text after </body> and </html> is the body\'s', '<body>a</body> b</html> c', 'a b c'],
    ['a newline right after <pre> is dropped', '<body>a<pre>\nb</pre>', 'ab'],
    ['NUL is dropped from text', '<body>a\0b', 'ab'],
    ['character references are decoded', '<body>a&amp;b&nbsp;c', 'a&b\u00a0c'],
    ['text in a <noscript> in the head starts the body', '<head><noscript>x</noscript></head><body>y', 'xy'],
    ['after </head>, a <noscript> starts the body, and a <title> is then the body\'s', '<head></head><noscript>x</noscript><title>t</title>', 'xt'],
    ['an SVG <template> is removed too', '<svg><template>t</template>u</svg>', 'u'],
    ['text inside an <iframe> counts', '<iframe> a b </iframe>c', 'a b c'],
    ['a newline right after <textarea> is dropped', '<textarea>\nx</textarea>', 'x'],
  ])('%s', async (_, html, text) => {
    expect(await textHash(html)).toBe(sha256(text));
  });

  it('hands the pages where the tree builder moves text to it, and gets the order right there', async () => {
    for (const [html, text] of [
      ['<table>a<tr><td>b</td></tr></table>', 'ab'],
      ['<table><tr><td>b</td></tr><div>a</div></table>', 'ab'],
      ['<frameset><noframes>f</noframes></frameset>', 'f'],
    ] as const) {
      const page = await parsePage(html, 'https://example.com/');
      expect(page.parser, html).toBe('tree');
      expect(page.textHash, html).toBe(sha256(text));
    }
  });
});

describe('textHash for change detection', () => {
  const page = (parts: { nonce?: string; script?: string; comment?: string; cls?: string; body?: string } = {}) =>
    `<!doctype html><html><head><title>News</title><script nonce="${parts.nonce ?? 'n1'}">var t = "${parts.script ?? '12:00'}";</script></head>` +
    `<body class="${parts.cls ?? 'a'}"><!-- ${parts.comment ?? 'built at 12:00'} -->` +
    (parts.body ?? '<h1>Title</h1>\n<p>First paragraph.</p>\n<p>Second paragraph.</p>') +
    '</body></html>';

  it('is the same when only a nonce, a timestamp in a script, a comment, an attribute or whitespace changed', async () => {
    const base = await textHash(page());
    expect(await textHash(page({ nonce: 'n2' }))).toBe(base);
    expect(await textHash(page({ script: '12:01' }))).toBe(base);
    expect(await textHash(page({ comment: 'built at 12:01' }))).toBe(base);
    expect(await textHash(page({ cls: 'b' }))).toBe(base);
    expect(await textHash(page({ body: '<h1>Title</h1>  \r\n <p>First   paragraph.</p>\n\n\t<p>Second\nparagraph.</p>\n' }))).toBe(base);
  });

  it('differs when a word changed or paragraphs were swapped', async () => {
    const base = await textHash(page());
    expect(await textHash(page({ body: '<h1>Title</h1>\n<p>First paragraph.</p>\n<p>Third paragraph.</p>' }))).not.toBe(base);
    expect(await textHash(page({ body: '<h1>Title</h1>\n<p>Second paragraph.</p>\n<p>First paragraph.</p>' }))).not.toBe(base);
  });
});

describe('textHash across the slices the streaming pass parses in', () => {
  it('collapses whitespace, joins words and keeps surrogate pairs across slice boundaries', async () => {
    const open = '<body><p>';
    // A word, a whitespace run, and an emoji each straddling one of the first three slice boundaries.
    const filler = (to: number, from: number) => 'x'.repeat(to - from);
    let html = open + filler(SLICE_CHARS - 2, open.length) + 'word';
    html += filler(2 * SLICE_CHARS - 3, html.length) + ' \n\t  ' + 'y';
    html += filler(3 * SLICE_CHARS - 1, html.length) + '\ud83d\ude00' + ' end </p>';
    expect(html.length).toBeGreaterThan(3 * SLICE_CHARS);
    const text = html.slice(open.length, -'</p>'.length).replace(/[\t\n ]+/g, ' ').trim();
    const { stream, tree } = await textHashes(html);
    expect(stream).toBe(sha256(text));
    expect(tree).toBe(sha256(text));
  });
});
