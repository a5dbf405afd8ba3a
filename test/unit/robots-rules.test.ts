import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ROBOTS_TXT_PARSE_LIMIT_BYTES,
  escapeRobotsPattern,
  isValidProductToken,
  parseRobotsTxt,
  productTokenOf,
  readRobotsTxtRecords,
  robotsPathOf,
  robotsRulesForFetch,
  robotsRulesFromSnapshot,
} from '../../functions/core/fetch/robots-rules.js';

// ---- google/robotstxt's own test cases (robots_test.cc), ported to test/fixtures/robotstxt/ ------------------------

interface Google {
  source: { commit: string };
  allowed: { id: string; robotstxt: string; userAgent: string; url: string; expected: boolean; googleOnly?: boolean }[];
  validUserAgent: { id: string; userAgent: string; expected: boolean }[];
  records: { id: string; label: string; robotstxtBase64: string; validDirectives?: number; unknownDirectives?: number; lastLine?: number; sitemap?: string }[];
  pathOf: { id: string; url: string; expected: string }[];
  escapePattern: { id: string; pattern: string; expected: string }[];
}
const google = JSON.parse(readFileSync(new URL('../fixtures/robotstxt/google-robotstxt-cases.json', import.meta.url), 'utf8')) as Google;
const expand = (text: string) => text.replace(/\{\{repeat:(.):(\d+)\}\}/g, (_, char: string, count: string) => char.repeat(Number(count)));

const NOT_A_URL = 'isAllowed takes an absolute URL or a path starting with "/" and throws a TypeError for anything else, where google takes any string';
const NOT_A_TOKEN = 'parseRobotsTxt throws a TypeError for a product token that is not [A-Za-z_-]+ (RFC 9309 §2.2.1), where google matches it against nothing';
/**
 * Where we answer differently from google's reference on purpose, and why. `rejects`: our API refuses the input (the
 * test checks it throws); `opposite`: we give the other answer (the test checks we do). Every other case must pass.
 */
const DIFFERENCES: Record<string, { kind: 'rejects' | 'opposite'; why: string }> = {
  'GoogleOnly_SystemTest#1': { kind: 'rejects', why: NOT_A_URL },
  'GoogleOnly_SystemTest#2': { kind: 'rejects', why: NOT_A_TOKEN },
  'GoogleOnly_SystemTest#3': { kind: 'rejects', why: NOT_A_URL },
  'GoogleOnly_SystemTest#4': { kind: 'rejects', why: NOT_A_TOKEN },
  'GoogleOnly_AcceptUserAgentUpToFirstSpace#2': { kind: 'rejects', why: NOT_A_TOKEN },
  'ID_Encoding#3': {
    kind: 'opposite',
    why: 'google requires its caller to percent-encode the URL and so treats /foo/bar/ツ as a different URL; RFC 9309 §2.2.2 says the URI is percent-encoded before comparing, which isAllowed does (WHATWG URL), so it is the same URL as /foo/bar/%E3%83%84',
  },
  'ID_Encoding#5': { kind: 'opposite', why: 'as ID_Encoding#3' },
  'GoogleOnly_IndexHTMLisDirectory#1': {
    kind: 'opposite',
    why: 'Google-specific: "Allow: …/index.html" also allowing "…/" is not in RFC 9309; we only allow what the rule says',
  },
  'GoogleOnly_LineTooLong#2': {
    kind: 'opposite',
    why: 'Google-specific: google cuts every line at 16,664 bytes, which turns a long rule into a shorter, broader one; we read lines whole (the file is bounded at 500 KiB, and matching is linear in the path)',
  },
  'GoogleOnly_LineTooLong#5': { kind: 'opposite', why: 'as GoogleOnly_LineTooLong#2' },
  ...Object.fromEntries(
    google.pathOf.filter((c) => !/^(https?:\/\/|\/)/.test(c.url)).map((c) => [c.id, { kind: 'rejects' as const, why: NOT_A_URL }]),
  ),
};

const tally = { passed: 0, rejects: [] as string[], opposite: [] as string[] };
/** Runs one google case: as google expects, or as DIFFERENCES says we differ. */
function check(id: string, ours: () => unknown, expected: unknown): void {
  const difference = DIFFERENCES[id];
  if (difference === undefined) {
    expect(ours(), id).toEqual(expected);
    tally.passed++;
  } else if (difference.kind === 'rejects') {
    expect(ours, id).toThrow(TypeError);
    tally.rejects.push(id);
  } else {
    expect(ours(), id).toEqual(!expected);
    tally.opposite.push(id);
  }
}

describe(`google/robotstxt robots_test.cc (${google.source.commit.slice(0, 12)})`, () => {
  it.each(google.allowed.map((c) => [c.id, c] as const))('%s', (id, c) => {
    check(id, () => parseRobotsTxt(expand(c.robotstxt), c.userAgent).isAllowed(expand(c.url)), c.expected);
  });

  it.each(google.validUserAgent.map((c) => [c.id, c] as const))('%s', (id, c) => {
    check(id, () => isValidProductToken(c.userAgent), c.expected);
  });

  // A parse-handler case holds up to three of google's checks; each counts as one.
  it.each(google.records.map((c) => [`${c.id} (${c.label})`, c] as const))('%s', (_, c) => {
    const { records } = readRobotsTxtRecords(new Uint8Array(Buffer.from(c.robotstxtBase64, 'base64')));
    const known = records.filter((r) => ['user-agent', 'allow', 'disallow', 'sitemap'].includes(r.kind));
    if (c.validDirectives !== undefined) check(c.id, () => known.length, c.validDirectives);
    if (c.unknownDirectives !== undefined) check(c.id, () => records.length - known.length, c.unknownDirectives);
    if (c.lastLine !== undefined) check(c.id, () => records.at(-1)?.line, c.lastLine);
    if (c.sitemap !== undefined) check(c.id, () => records.filter((r) => r.kind === 'sitemap').map((r) => r.value).join(''), c.sitemap);
  });

  it.each(google.pathOf.map((c) => [`${c.id} ${JSON.stringify(c.url)}`, c] as const))('%s', (_, c) => {
    check(c.id, () => robotsPathOf(c.url), c.expected);
  });

  it.each(google.escapePattern.map((c) => [c.id, c] as const))('%s', (id, c) => {
    check(id, () => escapeRobotsPattern(c.pattern), c.expected);
  });

  afterAll(() => {
    const total = tally.passed + tally.rejects.length + tally.opposite.length;
    console.log(
      `google/robotstxt: ${tally.passed} of ${total} checks answer as google's; ` +
        `${tally.rejects.length} are inputs our API rejects (${tally.rejects.join(', ')}); ` +
        `${tally.opposite.length} differ on purpose (${tally.opposite.join(', ')})`,
    );
  });
});

// ---- our own cases: the contract's points ----------------------------------------------------------------------------

const TOKEN = 'serverless-crawler';
const rules = (body: string | Uint8Array) => parseRobotsTxt(body, TOKEN);

describe('group selection', () => {
  it('uses every group naming our token, merged, over the * groups; compares the token without case', () => {
    const robots = rules(
      'User-agent: *\nDisallow: /\n\nUser-agent: Serverless-Crawler\nDisallow: /a/\n\nUser-agent: other\nDisallow: /b/\n\n' +
        'User-agent: SERVERLESS-CRAWLER/2.0\nDisallow: /c/\n',
    );
    expect(robots.group).toBe('token');
    expect(robots.isAllowed('https://example.com/a/x')).toBe(false);
    expect(robots.isAllowed('https://example.com/c/x')).toBe(false);
    expect(robots.isAllowed('https://example.com/b/x')).toBe(true);
    expect(robots.isAllowed('https://example.com/z')).toBe(true);
  });

  it('falls back to the * groups, merged, and to no rules at all', () => {
    const star = rules('User-agent: googlebot\nDisallow: /\n\nUser-agent: *\nDisallow: /a/\n\nUser-agent: *\nDisallow: /b/\n');
    expect(star.group).toBe('*');
    expect(star.isAllowed('/a/1')).toBe(false);
    expect(star.isAllowed('/b/1')).toBe(false);
    expect(star.isAllowed('/c/1')).toBe(true);
    const none = rules('User-agent: googlebot\nDisallow: /\n');
    expect(none.group).toBe('none');
    expect(none.isAllowed('/anything')).toBe(true);
  });

  it('does not take a longer product token for ours', () => {
    expect(rules('User-agent: serverless-crawler-extra\nDisallow: /\n').isAllowed('/x')).toBe(true);
    expect(rules('User-agent: serverless\nDisallow: /\n').isAllowed('/x')).toBe(true);
  });

  it('refuses a product token that is not one, and reads ours from a User-Agent header', () => {
    expect(() => parseRobotsTxt('', 'serverless-crawler/0.1.0')).toThrow(TypeError);
    expect(productTokenOf('serverless-crawler/0.1.0 (+https://example.com/bot)')).toBe('serverless-crawler');
    expect(() => productTokenOf('/0.1')).toThrow(TypeError);
  });
});

describe('matching', () => {
  it('lets the longest match win, Allow on a tie, with * and $ wildcards', () => {
    const robots = rules(
      'User-agent: *\nDisallow: /shop/\nAllow: /shop/*/public$\nDisallow: /*.pdf$\nAllow: /docs/\nDisallow: /docs/\nDisallow: /a$b\n',
    );
    expect(robots.isAllowed('/shop/1/public')).toBe(true);
    expect(robots.isAllowed('/shop/1/public/x')).toBe(false);
    expect(robots.isAllowed('/files/x.pdf')).toBe(false);
    expect(robots.isAllowed('/files/x.pdf?download=1')).toBe(true);
    expect(robots.isAllowed('/docs/x')).toBe(true);
    expect(robots.isAllowed('/a$b/c')).toBe(false); // a $ that is not last is a plain character
    expect(robots.matchingRule('/shop/2')).toEqual({ allow: false, pattern: '/shop/' });
    expect(robots.matchingRule('/elsewhere')).toBeNull();
  });

  it('matches * wildcards exactly: leftmost placement, several stars, a star before $', () => {
    const robots = rules('User-agent: *\nDisallow: /*a*b*c$\nDisallow: /x*$\nDisallow: /**y\n');
    expect(robots.isAllowed('/aXbXc')).toBe(false);
    expect(robots.isAllowed('/abcabc')).toBe(false);
    expect(robots.isAllowed('/cba')).toBe(true);
    expect(robots.isAllowed('/abcX')).toBe(true);
    expect(robots.isAllowed('/x')).toBe(false);
    expect(robots.isAllowed('/xyz?q')).toBe(false);
    expect(robots.isAllowed('/1y')).toBe(false);
  });

  it('normalizes percent-encoding on both sides, as URLs are sent', () => {
    const robots = rules('User-agent: *\nDisallow: /café\nDisallow: /a b\nDisallow: /%7euser\nDisallow: /q?x=it\'s\nDisallow: /%2fslash\n');
    expect(robots.isAllowed('https://example.com/caf%C3%A9/menu')).toBe(false);
    expect(robots.isAllowed('https://example.com/café/menu')).toBe(false);
    expect(robots.isAllowed('https://example.com/a%20b')).toBe(false);
    expect(robots.isAllowed('https://example.com/%7Euser/')).toBe(false);
    expect(robots.isAllowed('https://example.com/~user/')).toBe(true); // unreserved octets are not decoded (RFC 9309 §2.2.2)
    expect(robots.isAllowed("https://example.com/q?x=it's")).toBe(false);
    expect(robots.isAllowed('https://example.com/%2Fslash')).toBe(false);
    expect(robots.isAllowed('https://example.com/%2fslash')).toBe(false);
  });

  it('matches path and query, never the fragment, keeping an empty query', () => {
    expect(robotsPathOf('https://example.com/a/b?c=d#frag')).toBe('/a/b?c=d');
    expect(robotsPathOf('https://example.com/a?')).toBe('/a?');
    expect(robotsPathOf('https://example.com/a?#x')).toBe('/a?');
    expect(robotsPathOf(new URL('https://example.com'))).toBe('/');
    const robots = rules('User-agent: *\nDisallow: /*?\n');
    expect(robots.isAllowed('https://example.com/a?')).toBe(false);
    expect(robots.isAllowed('https://example.com/a#?')).toBe(true);
  });

  it('always allows /robots.txt, even when robots.txt disallows everything or cannot be reached', () => {
    expect(rules('User-agent: *\nDisallow: /\n').isAllowed('https://example.com/robots.txt')).toBe(true);
    expect(robotsRulesForFetch({ kind: 'failed' }, TOKEN).isAllowed('https://example.com/robots.txt')).toBe(true);
    expect(rules('User-agent: *\nDisallow: /\n').isAllowed('https://example.com/robots.txt?x')).toBe(false);
  });

  it('stays fast on hostile patterns: 1,000 wildcard rules against a long URL', () => {
    const body = `User-agent: *\n${Array.from({ length: 1000 }, (_, i) => `Disallow: /${'*a'.repeat(200)}${i}$`).join('\n')}\n`;
    const robots = rules(body);
    const url = `https://example.com/${'a'.repeat(8000)}`;
    const started = performance.now();
    expect(robots.isAllowed(url)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('Crawl-delay', () => {
  it('is our group\'s, in seconds, fractions allowed', () => {
    expect(rules('User-agent: serverless-crawler\nCrawl-delay: 2\n').crawlDelaySeconds).toBe(2);
    expect(rules('User-agent: *\nCrawl-delay: 0.5\nDisallow: /x\n').crawlDelaySeconds).toBe(0.5);
    expect(rules('User-agent: *\ncrawl-delay: 10 # slow\n').crawlDelaySeconds).toBe(10);
  });

  it('comes from the group the rules come from: not from * when a group names us', () => {
    expect(rules('User-agent: *\nCrawl-delay: 10\nDisallow: /y\n\nUser-agent: serverless-crawler\nDisallow: /x\n').crawlDelaySeconds).toBeNull();
    expect(rules('User-agent: other\nCrawl-delay: 10\n').crawlDelaySeconds).toBeNull();
    expect(rules('Crawl-delay: 10\nUser-agent: *\nDisallow: /x\n').crawlDelaySeconds).toBeNull();
  });

  it('takes the largest of our merged groups, and applies to every user-agent line of its group', () => {
    expect(rules('User-agent: serverless-crawler\nCrawl-delay: 1\nDisallow: /a\n\nUser-agent: serverless-crawler\nCrawl-delay: 3\n').crawlDelaySeconds).toBe(3);
    // Crawl-delay is one of RFC 9309's "other records" (§2.2.4), which do not end a run of user-agent lines: until a
    // rule, the lines above and below it are one group, as google's parser has it for Sitemap and unknown lines.
    expect(rules('User-agent: other\nCrawl-delay: 4\nUser-agent: serverless-crawler\nDisallow: /x\n').crawlDelaySeconds).toBe(4);
    expect(rules('User-agent: *\nCrawl-delay: 10\n\nUser-agent: serverless-crawler\nDisallow: /x\n').crawlDelaySeconds).toBe(10);
  });

  it('ignores values that are not a non-negative number', () => {
    for (const value of ['', 'abc', '-1', '1e3', '2s', 'Infinity', '1,5']) {
      expect(rules(`User-agent: *\nCrawl-delay: ${value}\n`).crawlDelaySeconds, value).toBeNull();
    }
  });
});

describe('Sitemap', () => {
  it('lists every absolute http(s) sitemap anywhere in the file, in order, once each', () => {
    const robots = rules(
      'Sitemap: https://example.com/a.xml\nUser-agent: other\nSitemap: https://example.com/b.xml.gz\nDisallow: /\n' +
        'sitemap: https://example.com/a.xml\nSitemap: /relative.xml\nSitemap: ftp://example.com/c.xml\nSitemap:\n' +
        'Sitemap: https://example.com/ü.xml\n',
    );
    expect(robots.sitemaps).toEqual(['https://example.com/a.xml', 'https://example.com/b.xml.gz', 'https://example.com/%C3%BC.xml']);
  });

  it('does not end a group of user-agent lines', () => {
    const robots = rules('User-agent: serverless-crawler\nSitemap: https://example.com/s.xml\nUser-agent: *\nDisallow: /\n');
    expect(robots.group).toBe('token');
    expect(robots.isAllowed('/x')).toBe(false);
    const unknownLine = 'User-agent: *\nAllow: /\n\nUser-agent: serverless-crawler\nNo-such-record: 1\nUser-agent: other\nDisallow: /\n';
    expect(rules(unknownLine).isAllowed('/x')).toBe(false);
  });
});

describe('size limit', () => {
  const filler = (bytes: number) => `# ${'x'.repeat(bytes - 3)}\n`;

  it('parses at least 500 KiB: a rule at the end of a 500 KiB file counts', () => {
    const tail = 'User-agent: *\nDisallow: /late/\n';
    const body = filler(ROBOTS_TXT_PARSE_LIMIT_BYTES - tail.length) + tail;
    expect(Buffer.byteLength(body)).toBe(ROBOTS_TXT_PARSE_LIMIT_BYTES);
    const robots = rules(body);
    expect(robots.truncated).toBe(false);
    expect(robots.isAllowed('/late/x')).toBe(false);
  });

  it('ignores what comes after 500 KiB, as bytes or text, and says so', () => {
    const body = `User-agent: *\nDisallow: /early/\n${filler(ROBOTS_TXT_PARSE_LIMIT_BYTES)}Disallow: /late/\n`;
    for (const input of [body, new TextEncoder().encode(body)]) {
      const robots = rules(input);
      expect(robots.truncated).toBe(true);
      expect(robots.isAllowed('/early/x')).toBe(false);
      expect(robots.isAllowed('/late/x')).toBe(true);
    }
  });

  it('drops the line the limit cuts through, so a rule cut short cannot allow more than it says', () => {
    const head = 'User-agent: *\nDisallow: /\n';
    const padding = filler(ROBOTS_TXT_PARSE_LIMIT_BYTES - head.length - 10);
    const robots = rules(`${head}${padding}Allow: /private-but-public-part\n`); // cut after "Allow: /p"
    expect(robots.truncated).toBe(true);
    expect(robots.isAllowed('/private/x')).toBe(false);
  });

  it('counts the limit in UTF-8 bytes and does not encode a huge string whole', () => {
    const body = `User-agent: *\nDisallow: /é/\n# ${'é'.repeat(ROBOTS_TXT_PARSE_LIMIT_BYTES / 2)}\nDisallow: /late/\n`;
    expect(rules(body).isAllowed('/late/')).toBe(true);
    const huge = `User-agent: *\nDisallow: /early/\n${'#'.repeat(50_000_000)}\n`;
    const started = performance.now();
    expect(rules(huge).isAllowed('/early/')).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('robots.txt response policy', () => {
  const body = 'User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n';

  it('2xx: the body\'s rules', () => {
    const robots = robotsRulesForFetch({ kind: 'response', status: 200, body }, TOKEN);
    expect(robots.verdict).toBe('rules');
    expect(robots.isAllowed('/private/x')).toBe(false);
    expect(robots.isAllowed('/public')).toBe(true);
    expect(robots.crawlDelaySeconds).toBe(3);
    expect(robotsRulesForFetch({ kind: 'response', status: 204, body: '' }, TOKEN).isAllowed('/private/x')).toBe(true);
  });

  it.each([400, 401, 403, 404, 410, 429, 301, 308])('%i: unavailable, everything allowed', (status) => {
    const robots = robotsRulesForFetch({ kind: 'response', status, body }, TOKEN);
    expect(robots.verdict).toBe('unavailable');
    expect(robots.isAllowed('/private/x')).toBe(true);
    expect(robots.crawlDelaySeconds).toBeNull();
  });

  it.each([500, 502, 503, 504, 599, 600, 100])('%i: unreachable, everything disallowed', (status) => {
    const robots = robotsRulesForFetch({ kind: 'response', status, body }, TOKEN);
    expect(robots.verdict).toBe('unreachable');
    expect(robots.isAllowed('/public')).toBe(false);
    expect(robots.matchingRule('/public')).toBeNull();
  });

  it('a failed fetch: unreachable, everything disallowed', () => {
    const robots = robotsRulesForFetch({ kind: 'failed' }, TOKEN);
    expect(robots.verdict).toBe('unreachable');
    expect(robots.isAllowed('https://example.com/')).toBe(false);
  });
});

describe('snapshot', () => {
  it('round-trips through JSON with the same answers', () => {
    const robots = rules(
      'User-agent: *\nDisallow: /\nAllow: /pub*$\nCrawl-delay: 1.5\nSitemap: https://example.com/s.xml\n',
    );
    const back = robotsRulesFromSnapshot(JSON.parse(JSON.stringify(robots.toSnapshot())));
    expect(back.toSnapshot()).toEqual(robots.toSnapshot());
    for (const url of ['/', '/pub', '/pubx', '/x', '/robots.txt']) expect(back.isAllowed(url), url).toBe(robots.isAllowed(url));
    expect(back.crawlDelaySeconds).toBe(1.5);
    expect(back.sitemaps).toEqual(['https://example.com/s.xml']);
    const unreachable = robotsRulesForFetch({ kind: 'failed' }, TOKEN).toSnapshot();
    expect(robotsRulesFromSnapshot(unreachable).isAllowed('/x')).toBe(false);
  });
});

describe('URLs it takes', () => {
  it('takes absolute URLs and paths, and refuses anything else', () => {
    const robots = rules('User-agent: *\nDisallow: /x\n');
    expect(robots.isAllowed('/x')).toBe(false);
    expect(robots.isAllowed(new URL('https://example.com/x'))).toBe(false);
    expect(() => robots.isAllowed('example.com/x')).toThrow(TypeError);
    expect(() => robots.isAllowed('')).toThrow(TypeError);
  });
});
