// robots.txt as RFC 9309 says: reading the file, choosing our groups, and matching a URL against their rules.
// Pure: no network. The fetcher hands in what it got (robotsRulesForFetch) and asks isAllowed per URL.
//
// Why not the `robots-parser` package (3.0.1): of the 71 allow/disallow checks in google/robotstxt's tests that are
// not marked Google-specific (test/fixtures/robotstxt/), it answers 63 as google does and this module 69 (the other 2
// are a deliberate difference both share, see the test); it fails the 6 where the user-agent line "FOO BAR" names the
// product token "foo". Past google's cases, it lets a Sitemap or unknown line between two user-agent lines split their
// group (RFC 9309 §2.2.4: other records must not interfere), does not allow /robots.txt itself (§2.2.2), takes
// "Crawl-delay: -1" and "Infinity", has no size limit, and matches in pattern × path time (9 s for 1,000 wildcard
// rules against an 8,000-character URL; 20 ms here). Fixing those means replacing its line reader and its matcher,
// which is all it is, so this is a small parser of our own after google's reference parser (robots.cc), tested on
// that parser's own cases.

/** RFC 9309 §2.5: a parsing limit of at least 500 KiB. A larger file is parsed up to here and the rest ignored. */
export const ROBOTS_TXT_PARSE_LIMIT_BYTES = 500 * 1024;

/** 'rules' from a 2xx body; 'unavailable' (4xx: everything allowed); 'unreachable' (5xx or failed: nothing is). */
export type RobotsVerdict = 'rules' | 'unavailable' | 'unreachable';

/** Which groups gave the rules: those naming our product token, else those for `*`, else none. */
export type RobotsGroupSource = 'token' | '*' | 'none';

export interface RobotsRule {
  allow: boolean;
  /** The path pattern as matched: percent-encoding normalized, `*` and a final `$` special. */
  pattern: string;
}

/** Everything a RobotsRules holds, as plain data: for a cache, and back through robotsRulesFromSnapshot. */
export interface RobotsRulesSnapshot {
  verdict: RobotsVerdict;
  group: RobotsGroupSource;
  /** Our groups' rules, in the order they are tried: longest pattern first, Allow first of equal lengths. */
  rules: RobotsRule[];
  crawlDelaySeconds: number | null;
  sitemaps: string[];
  /** The body was over ROBOTS_TXT_PARSE_LIMIT_BYTES and only its first part was read. */
  truncated: boolean;
}

export interface RobotsRules {
  readonly verdict: RobotsVerdict;
  readonly group: RobotsGroupSource;
  /** Crawl-delay of our groups (the largest, if several say it); null when none does or there are no rules. */
  readonly crawlDelaySeconds: number | null;
  /** Every valid absolute http(s) `Sitemap:` URL in the file, in order, without repeats (they belong to no group). */
  readonly sitemaps: readonly string[];
  readonly truncated: boolean;
  /**
   * Whether our product token may fetch this URL: an absolute URL, or a path ("/a?b") on the robots.txt's own origin.
   * The caller checks the URL is on the origin this robots.txt came from. `/robots.txt` itself is always allowed.
   */
  isAllowed(url: string | URL): boolean;
  /** The rule that decides for this URL (for logs and error messages); null when none matches. */
  matchingRule(url: string | URL): RobotsRule | null;
  toSnapshot(): RobotsRulesSnapshot;
}

/** What fetching /robots.txt came to, after following up to 5 redirects. */
export type RobotsTxtFetchResult =
  | { kind: 'response'; status: number; body: string | Uint8Array }
  | { kind: 'failed' };

/**
 * RFC 9309 §2.3.1 and the contract: 2xx → the file's rules; 4xx → unavailable, everything allowed; 3xx (redirects
 * not followed to the end, §2.3.1.2 lets a crawler take that as unavailable) → likewise; 5xx, a failed fetch, or any
 * other status → unreachable, everything disallowed for now (the fetcher retries and, at the end, fails the URL with
 * ROBOTS_UNREACHABLE). 429 is a 4xx, so unavailable as the contract says, though google's crawler takes it as
 * unreachable.
 */
export function robotsRulesForFetch(result: RobotsTxtFetchResult, userAgentToken: string): RobotsRules {
  checkProductToken(userAgentToken);
  if (result.kind === 'failed') return verdictOnly('unreachable');
  const { status } = result;
  if (status >= 200 && status < 300) return parseRobotsTxt(result.body, userAgentToken);
  if (status >= 300 && status < 500) return verdictOnly('unavailable');
  return verdictOnly('unreachable');
}

/** Rules from a robots.txt body (bytes as fetched, or text) for the product token we crawl as, e.g. "serverless-crawler". */
export function parseRobotsTxt(body: string | Uint8Array, userAgentToken: string): RobotsRules {
  checkProductToken(userAgentToken);
  const token = userAgentToken.toLowerCase();
  const { records, truncated } = readRecords(body);

  interface Group { ours: boolean; star: boolean; rules: RobotsRule[]; crawlDelay: number | null }
  const groups: Group[] = [];
  const sitemaps = new Set<string>();
  let group: Group | null = null;
  let groupHasRules = false;
  for (const { kind, value } of records) {
    switch (kind) {
      case 'user-agent': {
        // A group is one or more user-agent lines and the rules after them; other records (Sitemap, Crawl-delay,
        // unknown ones) do not end a run of user-agent lines (RFC 9309 §2.2.4, and google's parser).
        if (group === null || groupHasRules) {
          group = { ours: false, star: false, rules: [], crawlDelay: null };
          groups.push(group);
          groupHasRules = false;
        }
        // As google's parser: "*" alone or before whitespace is the global group; otherwise the product token is the
        // value's leading [A-Za-z_-] run ("FooBot/1.2" and "FooBot Images" name FooBot), compared without case.
        if (value[0] === '*' && (value.length === 1 || /[ \t\v\f]/.test(value[1]!))) group.star = true;
        else if ((/^[A-Za-z_-]*/.exec(value)?.[0] ?? '').toLowerCase() === token) group.ours = true;
        break;
      }
      case 'allow':
      case 'disallow':
        if (group === null) break; // a rule before any user-agent line belongs to no group
        groupHasRules = true;
        // An empty pattern matches nothing ("Disallow:" allows all), though it still makes the group ours.
        if (value !== '') group.rules.push({ allow: kind === 'allow', pattern: value });
        break;
      case 'crawl-delay': {
        const seconds = parseCrawlDelay(value);
        if (group !== null && seconds !== null) group.crawlDelay = Math.max(group.crawlDelay ?? 0, seconds);
        break;
      }
      case 'sitemap': {
        const url = sitemapUrl(value);
        if (url !== null) sitemaps.add(url);
        break;
      }
      default:
        break;
    }
  }

  // Every group naming our token, merged; if none does, every `*` group, merged; if none of those, no rules.
  const ours = groups.filter((g) => g.ours);
  const chosen = ours.length > 0 ? ours : groups.filter((g) => g.star);
  const delays = chosen.map((g) => g.crawlDelay).filter((d): d is number => d !== null);
  return new CompiledRobotsRules({
    verdict: 'rules',
    group: ours.length > 0 ? 'token' : chosen.length > 0 ? '*' : 'none',
    rules: sortRules(chosen.flatMap((g) => g.rules)),
    crawlDelaySeconds: delays.length > 0 ? delays.reduce((a, b) => Math.max(a, b)) : null,
    sitemaps: [...sitemaps],
    truncated,
  });
}

export function robotsRulesFromSnapshot(snapshot: RobotsRulesSnapshot): RobotsRules {
  return new CompiledRobotsRules({ ...snapshot, rules: sortRules(snapshot.rules) });
}

/** RFC 9309 §2.2.1: a product token is one or more of [A-Za-z_-]. */
export function isValidProductToken(token: string): boolean {
  return /^[A-Za-z_-]+$/.test(token);
}

/** The product token of a User-Agent header, e.g. "serverless-crawler" of "serverless-crawler/0.1.0 (+https://…)". */
export function productTokenOf(userAgent: string): string {
  const token = /^[A-Za-z_-]*/.exec(userAgent.trim())?.[0] ?? '';
  if (token === '') throw new TypeError(`the user agent ${JSON.stringify(userAgent)} does not start with a product token ([A-Za-z_-]+)`);
  return token;
}

/**
 * The part of a URL that rules are matched against: path and query, without the fragment, always starting with "/",
 * percent-encoding normalized as patterns are (escapeRobotsPattern). Takes an absolute URL or a path starting with "/".
 */
export function robotsPathOf(url: string | URL): string {
  let parsed: URL;
  if (url instanceof URL) parsed = url;
  else if (url.startsWith('/')) parsed = new URL(url, 'http://robots-txt.invalid');
  else parsed = new URL(url); // a TypeError for anything that is not an absolute URL
  // WHATWG drops an empty query ("/a?") from .search, but "/a?" is what would be requested: keep its "?".
  const href = parsed.href;
  const hash = href.indexOf('#');
  const emptyQuery = parsed.search === '' && (hash < 0 ? href : href.slice(0, hash)).endsWith('?');
  const path = parsed.pathname.startsWith('/') ? parsed.pathname : `/${parsed.pathname}`;
  return normalizePercentEncoding(path + (emptyQuery ? '?' : parsed.search));
}

/** A pattern as the parser stores it: UTF-8 octets outside US-ASCII percent-encoded, and %xx as %XX ("á" → "%C3%A1"). */
export function escapeRobotsPattern(value: string): string {
  return normalizePercentEncoding(Buffer.from(value, 'utf8').toString('latin1'));
}

export type RobotsRecordKind = 'user-agent' | 'allow' | 'disallow' | 'sitemap' | 'crawl-delay' | 'other';

export interface RobotsRecord {
  /** 1-based; CR, LF and CRLF each end a line. */
  line: number;
  kind: RobotsRecordKind;
  /** The name as written (UTF-8). */
  name: string;
  /** Allow and Disallow: the normalized pattern; any other record: the value as written (UTF-8), trimmed. */
  value: string;
}

/** The name-value lines of a robots.txt, as the parser sees them (comments, blank and unreadable lines left out). */
export function readRobotsTxtRecords(body: string | Uint8Array): { records: RobotsRecord[]; truncated: boolean } {
  const { records, truncated } = readRecords(body);
  return {
    records: records.map((r) => ({
      ...r,
      name: utf8(r.name),
      value: r.kind === 'allow' || r.kind === 'disallow' ? r.value : utf8(r.value),
    })),
    truncated,
  };
}

// ---------------------------------------------------------------------------------------------------------------------

class CompiledRobotsRules implements RobotsRules {
  readonly verdict: RobotsVerdict;
  readonly group: RobotsGroupSource;
  readonly crawlDelaySeconds: number | null;
  readonly sitemaps: readonly string[];
  readonly truncated: boolean;
  readonly #rules: readonly RobotsRule[];
  readonly #matchers: readonly ((path: string) => boolean)[];

  constructor(snapshot: RobotsRulesSnapshot) {
    this.verdict = snapshot.verdict;
    this.group = snapshot.group;
    this.crawlDelaySeconds = snapshot.crawlDelaySeconds;
    this.sitemaps = Object.freeze([...snapshot.sitemaps]);
    this.truncated = snapshot.truncated;
    this.#rules = Object.freeze(snapshot.rules.map((r) => Object.freeze({ ...r })));
    this.#matchers = this.#rules.map((r) => compilePattern(r.pattern));
  }

  isAllowed(url: string | URL): boolean {
    const path = robotsPathOf(url);
    if (path === '/robots.txt') return true; // RFC 9309 §2.2.2: implicitly allowed
    if (this.verdict !== 'rules') return this.verdict === 'unavailable';
    return this.#firstMatch(path)?.allow ?? true;
  }

  matchingRule(url: string | URL): RobotsRule | null {
    return this.verdict === 'rules' ? this.#firstMatch(robotsPathOf(url)) : null;
  }

  toSnapshot(): RobotsRulesSnapshot {
    return {
      verdict: this.verdict,
      group: this.group,
      rules: this.#rules.map((r) => ({ ...r })),
      crawlDelaySeconds: this.crawlDelaySeconds,
      sitemaps: [...this.sitemaps],
      truncated: this.truncated,
    };
  }

  /** Rules are sorted so that the first one that matches is the one that decides. */
  #firstMatch(path: string): RobotsRule | null {
    const index = this.#matchers.findIndex((matches) => matches(path));
    return index < 0 ? null : this.#rules[index]!;
  }
}

function verdictOnly(verdict: 'unavailable' | 'unreachable'): RobotsRules {
  return new CompiledRobotsRules({ verdict, group: 'none', rules: [], crawlDelaySeconds: null, sitemaps: [], truncated: false });
}

function checkProductToken(token: string): void {
  if (!isValidProductToken(token)) {
    throw new TypeError(`robots.txt product token must be [A-Za-z_-]+ (RFC 9309 §2.2.1), got ${JSON.stringify(token)}; see productTokenOf`);
  }
}

/** RFC 9309 §2.2.2: the most specific (longest) match wins, and Allow wins a tie. Length counts `*` and `$` as google's does. */
function sortRules(rules: RobotsRule[]): RobotsRule[] {
  return [...rules].sort((a, b) => b.pattern.length - a.pattern.length || Number(b.allow) - Number(a.allow));
}

/**
 * A matcher for one pattern, anchored at the start of the path: `*` is any run of characters, `$` at the very end
 * anchors the end (elsewhere it is a plain character). With only `*` as a wildcard, placing each literal piece at its
 * leftmost possible position is exact, so this takes time linear in the path (google's takes pattern × path, which a
 * hostile file could make large).
 */
function compilePattern(pattern: string): (path: string) => boolean {
  const anchored = pattern.endsWith('$');
  const pieces = (anchored ? pattern.slice(0, -1) : pattern).split('*');
  const first = pieces[0]!;
  if (pieces.length === 1) return anchored ? (path) => path === first : (path) => path.startsWith(first);
  const middle = pieces.slice(1, -1).filter((piece) => piece !== '');
  const last = pieces[pieces.length - 1]!;
  return (path) => {
    if (!path.startsWith(first)) return false;
    let at = first.length;
    for (const piece of middle) {
      const found = path.indexOf(piece, at);
      if (found < 0) return false;
      at = found + piece.length;
    }
    if (anchored) return path.length - last.length >= at && path.endsWith(last);
    return last === '' || path.indexOf(last, at) >= 0;
  };
}

/**
 * RFC 9309 §2.2.2: octets outside US-ASCII are percent-encoded before comparing, and %xx compares as %XX (google's
 * MaybeEscapePattern). The same is done to the characters a URL may not hold as they are (controls, space, " ' < > `
 * { }), which WHATWG URL encodes in some parts of a URL and not in others, so "/a b" in a file matches the URL
 * "/a%20b". Unreserved characters are not decoded: "%62" stays "%62", as RFC 9309's own example has it. The input is
 * a byte string (one character per octet), or ASCII.
 */
function normalizePercentEncoding(bytes: string): string {
  return bytes.replace(/%([0-9A-Fa-f]{2})|[\x00-\x20"'<>`{}\x7F-\xFF]/g, (match, hex: string | undefined) =>
    hex !== undefined ? `%${hex.toUpperCase()}` : `%${match.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

interface RawRecord { line: number; kind: RobotsRecordKind; name: string; value: string }

/** Names are compared without case. The misspellings are those google's parser accepts. */
const RECORD_KINDS = new Map<string, RobotsRecordKind>([
  ['user-agent', 'user-agent'], ['useragent', 'user-agent'], ['user agent', 'user-agent'],
  ['allow', 'allow'],
  ['disallow', 'disallow'], ['dissallow', 'disallow'], ['dissalow', 'disallow'], ['disalow', 'disallow'],
  ['diasllow', 'disallow'], ['disallaw', 'disallow'],
  ['sitemap', 'sitemap'], ['site-map', 'sitemap'],
  ['crawl-delay', 'crawl-delay'],
]);

const ASCII_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/**
 * The file as records, worked on as a byte string (latin1: one character per octet) so that patterns are escaped
 * octet by octet as google's parser does, whatever the file's encoding. Names and values are byte strings here.
 */
function readRecords(body: string | Uint8Array): { records: RawRecord[]; truncated: boolean } {
  const { text, truncated } = limitedByteString(body);
  // A UTF-8 byte order mark, or the first octets of one, is skipped at the start of the file (as google's parser).
  let start = 0;
  while (start < 3 && text.charCodeAt(start) === [0xef, 0xbb, 0xbf][start]) start++;
  const lines = text.slice(start).split(/\r\n|\r|\n/);
  const records: RawRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const pair = nameAndValue(lines[i]!);
    if (pair === null) continue;
    const kind = RECORD_KINDS.get(pair.name.toLowerCase()) ?? 'other';
    const value = kind === 'allow' || kind === 'disallow' ? normalizePercentEncoding(pair.value) : pair.value;
    records.push({ line: i + 1, kind, name: pair.name, value });
  }
  return { records, truncated };
}

/** `name: value # comment`; null for blank lines, comments and lines with no name. */
function nameAndValue(line: string): { name: string; value: string } | null {
  const hash = line.indexOf('#');
  const content = (hash < 0 ? line : line.slice(0, hash)).replace(ASCII_SPACE, '');
  if (content === '') return null;
  const colon = content.indexOf(':');
  if (colon < 0) {
    // As google's parser: a missing colon is taken as meant when the line is exactly two words ("Disallow /x").
    const words = /^([^ \t]+)[ \t]+([^ \t]+)$/.exec(content);
    return words === null ? null : { name: words[1]!, value: words[2]! };
  }
  const name = content.slice(0, colon).replace(ASCII_SPACE, '');
  return name === '' ? null : { name, value: content.slice(colon + 1).replace(ASCII_SPACE, '') };
}

/**
 * The body as a byte string, cut to ROBOTS_TXT_PARSE_LIMIT_BYTES. A cut body also loses its last, partial line: a rule
 * cut short ("Allow: /p" of "Allow: /private-but-this") could allow far more than it says.
 */
function limitedByteString(body: string | Uint8Array): { text: string; truncated: boolean } {
  const limit = ROBOTS_TXT_PARSE_LIMIT_BYTES;
  // A string's first limit + 1 characters are at least limit + 1 octets, so a longer string need not be encoded whole.
  const bytes = typeof body === 'string' ? Buffer.from(body.length > limit ? body.slice(0, limit + 1) : body, 'utf8') : body;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, limit));
  if (bytes.byteLength <= limit) return { text: buffer.toString('latin1'), truncated: false };
  const lastLineEnd = Math.max(buffer.lastIndexOf(0x0a), buffer.lastIndexOf(0x0d));
  return { text: buffer.subarray(0, Math.max(lastLineEnd, 0)).toString('latin1'), truncated: true };
}

function parseCrawlDelay(value: string): number | null {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(value)) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : null;
}

function sitemapUrl(value: string): string | null {
  try {
    const url = new URL(utf8(value));
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function utf8(byteString: string): string {
  return Buffer.from(byteString, 'latin1').toString('utf8');
}
