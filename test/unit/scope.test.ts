import { describe, expect, it } from 'vitest';
import { compileScope, EVERYTHING, matchesPattern, PatternError, scopeFor } from '../../functions/core/crawl/scope.js';
import { crawlRequestSchema } from '../../functions/core/model/crawl-request.js';

describe('include/exclude patterns, as the contract defines them', () => {
  it('matches the whole normalized URL: ** any run of characters, * any run without /', () => {
    const url = 'https://example.com/a/b?x=1';
    expect(matchesPattern('https://example.com/a/b?x=1', url)).toBe(true);
    expect(matchesPattern('https://example.com/**', url)).toBe(true);
    expect(matchesPattern('https://example.com/a/*', url)).toBe(true);
    expect(matchesPattern('https://example.com/*', url)).toBe(false);
    expect(matchesPattern('https://example.com/*/b?x=*', url)).toBe(true);
    expect(matchesPattern('**/b?x=1', url)).toBe(true);
    expect(matchesPattern('https://*/a/b?x=1', url)).toBe(true);
    expect(matchesPattern('https:**1', url)).toBe(true);
    // * never crosses a /, wherever the / is (the query too); ** does.
    expect(matchesPattern('https://example.com/a/*', 'https://example.com/a/b?next=/c')).toBe(false);
    expect(matchesPattern('https://example.com/a/**', 'https://example.com/a/b?next=/c')).toBe(true);
    // Stars match nothing too.
    expect(matchesPattern('https://example.com/*', 'https://example.com/')).toBe(true);
    expect(matchesPattern('https://example.com/**/', 'https://example.com//')).toBe(true);
    expect(matchesPattern('https://example.com/a**', 'https://example.com/a')).toBe(true);
  });

  it('is anchored at both ends: a pattern is not a substring search', () => {
    expect(matchesPattern('example.com', 'https://example.com/')).toBe(false);
    expect(matchesPattern('/blog/', 'https://example.com/blog/')).toBe(false);
    expect(matchesPattern('https://example.com/blog', 'https://example.com/blog/post')).toBe(false);
    expect(matchesPattern('https://example.com/blog', 'https://example.com/blo')).toBe(false);
    expect(matchesPattern('blog/**', 'https://example.com/blog/post')).toBe(false);
    expect(matchesPattern('**/blog/**', 'https://example.com/blog/post')).toBe(true);
    expect(matchesPattern('**post', 'https://example.com/blog/posts')).toBe(false);
  });

  it('takes every other character literally: ? [ ] { } ! . + ( ) | ^ $ \\ and the rest', () => {
    expect(matchesPattern('https://example.com/?', 'https://example.com/a')).toBe(false);
    expect(matchesPattern('https://example.com/?', 'https://example.com/?')).toBe(true);
    expect(matchesPattern('**?sort=*', 'https://example.com/list?sort=1')).toBe(true);
    expect(matchesPattern('**?sort=*', 'https://example.com/list?order=1')).toBe(false);
    expect(matchesPattern('**/[ab]', 'https://example.com/a')).toBe(false);
    expect(matchesPattern('**/[ab]', 'https://example.com/[ab]')).toBe(true);
    expect(matchesPattern('**/{a,b}', 'https://example.com/a')).toBe(false);
    expect(matchesPattern('**/{a,b}', 'https://example.com/{a,b}')).toBe(true);
    expect(matchesPattern('!https://example.com/a', 'https://example.com/b')).toBe(false);
    expect(matchesPattern('https://example.com/a.html', 'https://example.com/aXhtml')).toBe(false);
    expect(matchesPattern('https://example.com/a+', 'https://example.com/aa')).toBe(false);
    expect(matchesPattern('https://example.com/a+', 'https://example.com/a+')).toBe(true);
    expect(matchesPattern('**/+(a|b)', 'https://example.com/a')).toBe(false);
    expect(matchesPattern('**/+(a|b)', 'https://example.com/+(a|b)')).toBe(true);
    expect(matchesPattern('**/a$', 'https://example.com/a')).toBe(false);
    expect(matchesPattern('^https**', 'https://example.com/')).toBe(false);
    expect(matchesPattern('**/a\\*', 'https://example.com/a\\b')).toBe(true);
    expect(matchesPattern('**.pdf', 'https://example.com/a/b.pdf')).toBe(true);
    expect(matchesPattern('**/*.pdf', 'https://example.com/a/b.pdf')).toBe(true);
    expect(matchesPattern('**/*.pdf', 'https://example.com/a/b.pdfs')).toBe(false);
  });

  it('reads a run of three or more * as **', () => {
    expect(matchesPattern('https://example.com/***', 'https://example.com/a/b')).toBe(true);
    expect(matchesPattern('https://example.com/****/x', 'https://example.com/a/b/x')).toBe(true);
  });

  it('agrees with a reference matcher on random patterns and URLs', () => {
    // The reference: the contract's definition as a RegExp, safe here because the inputs are short.
    const reference = (pattern: string, url: string) => {
      const source = pattern.replace(/\*\*+|\*|[^*]/g, (t) => (t === '*' ? '[^/]*' : t.startsWith('**') ? '[\\s\\S]*' : t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
      return new RegExp(`^${source}$`).test(url);
    };
    let seed = 13;
    const random = (n: number) => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n);
    };
    const pick = (alphabet: string, length: number) => Array.from({ length }, () => alphabet[random(alphabet.length)]).join('');
    let matched = 0;
    for (let i = 0; i < 5_000; i++) {
      const url = pick('ab/?.', random(10));
      // Half the patterns are the URL with pieces starred out, so that many match.
      const pattern = i % 2 ? pick('ab/*?.', 1 + random(8)) : url.replace(/[^/]+|.{1,3}/g, (piece) => ['*', '**', piece][random(3)]!);
      const want = reference(pattern, url);
      if (want) matched++;
      expect(matchesPattern(pattern, url), `${pattern} on ${url}`).toBe(want);
    }
    expect(matched).toBeGreaterThan(200);
  });

  it('keeps a URL that matches some include (when any) and no exclude', () => {
    const scope = compileScope({ include: ['https://example.com/blog/**', 'https://example.com/docs/*'], exclude: ['**?*', '**.pdf'] });
    expect(scope.allows('https://example.com/blog/a/b')).toBe(true);
    expect(scope.allows('https://example.com/docs/intro')).toBe(true);
    expect(scope.allows('https://example.com/docs/a/b')).toBe(false);
    expect(scope.allows('https://example.com/shop/')).toBe(false);
    expect(scope.allows('https://example.com/blog/a?utm_source=x')).toBe(false);
    expect(scope.allows('https://example.com/blog/a.pdf')).toBe(false);
    const excludeOnly = compileScope({ exclude: ['**/private/**'] });
    expect(excludeOnly.allows('https://example.com/page')).toBe(true);
    expect(excludeOnly.allows('https://example.com/private/1')).toBe(false);
    expect(compileScope({})).toBe(EVERYTHING);
    expect(compileScope({ include: [], exclude: [] })).toBe(EVERYTHING);
  });

  it('does not backtrack: hostile patterns on long URLs take linear time', () => {
    const long = `https://example.com/${'a'.repeat(2_000)}`;
    expect(matchesPattern('**a**a**a**a**b', long)).toBe(false);
    expect(matchesPattern('**a**a**a**a**a', long)).toBe(true);
    expect(matchesPattern(`${'*a'.repeat(60)}*b`, `${'a'.repeat(2_000)}`)).toBe(false);
    // 100 patterns of 500 characters each (the request's limits), every one hostile, against 200 URLs of 2,048
    // characters: a backtracking matcher would not finish; this costs a bounded number of steps per character.
    const patterns = Array.from({ length: 100 }, (_, i) => `${'**a'.repeat(150)}${i}`.slice(0, 500));
    const scope = compileScope({ include: patterns, exclude: patterns });
    for (let i = 0; i < 200; i++) expect(scope.allows(`https://example.com/${'a'.repeat(2_028 - i)}`)).toBe(false);
  });
});

describe('patterns that can never match are refused', () => {
  it('names the pattern and says why', () => {
    expect(() => compileScope({ include: ['https://example.com/**'], exclude: ['**/a b'] })).toThrow(PatternError);
    expect(() => compileScope({ exclude: ['ok', '**/café'] })).toThrow(/exclude\[1\] "\*\*\/café" can never match/);
    expect(() => compileScope({ include: ['**#top'] })).toThrow(/include\[0\].*"#"/);
    // The URL parser lower-cases the scheme and host and drops the default port.
    expect(() => compileScope({ include: ['https://Example.com/**'] })).toThrow(/host is lower-case \(example.com\)/);
    expect(() => compileScope({ include: ['HTTPS://example.com/**'] })).toThrow(/scheme is lower-case/);
    expect(() => compileScope({ include: ['https://example.com:443/**'] })).toThrow(/default port \(https:\/\/example.com\)/);
    expect(() => compileScope({ include: ['http://example.com:80'] })).toThrow(/default port/);
    expect(() => compileScope({ include: ['http://example.com:80*/**', 'https://example.com:8443/**', 'http://example.com:443/'] })).not.toThrow();
    expect(() => compileScope({ include: ['https://User@example.com/**', 'https://example.com/Blog/**', '**://Example.com/**'] })).not.toThrow();
    // Every other string compiles: only * is special.
    expect(() => compileScope({ include: ['[', '{', '(', '\\', '?', '!', '***', '%'] })).not.toThrow();
  });

  it('in the crawl request, as INVALID_REQUEST material (the schema reports the pattern by its place)', () => {
    const parsed = crawlRequestSchema.safeParse({ urls: ['https://example.com/'], include: ['https://example.com/**', 'https://example.com/a b'] });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]).toMatchObject({ path: ['include', 1], message: expect.stringMatching(/^"https:\/\/example.com\/a b" can never match/) });
    expect(crawlRequestSchema.safeParse({ urls: ['https://example.com/'], exclude: ['**?*', '**[x]{y}'] }).success).toBe(true);
  });
});

describe('scopeFor: each crawl compiled once', () => {
  it('reads the crawl\'s options only on first use', async () => {
    let reads = 0;
    const read = async () => (reads++, { include: ['https://example.com/in/**'] });
    const first = await scopeFor('crawl-scope-test-1', read);
    const again = await scopeFor('crawl-scope-test-1', read);
    expect(again).toBe(first);
    expect(reads).toBe(1);
    expect(first.allows('https://example.com/in/x')).toBe(true);
    expect(first.allows('https://example.com/out')).toBe(false);
  });

  it('lets everything through for a crawl it cannot find, without keeping that', async () => {
    let reads = 0;
    const read = async () => (reads++, null);
    expect(await scopeFor('crawl-scope-test-2', read)).toBe(EVERYTHING);
    await scopeFor('crawl-scope-test-2', read);
    expect(reads).toBe(2);
  });
});
