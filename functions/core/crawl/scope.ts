import type { CrawlOptions } from '../model/crawl.js';

/**
 * A crawl's include/exclude patterns, as the contract defines them: a pattern is matched against the whole normalized
 * URL (`https://example.com/a/b?x=1`); `**` matches any run of characters, `*` any run without `/`, and every other
 * character is itself (`?`, `[`, `{`, `!`, `.`, `+`… included). A run of three or more `*` is a `**` (it matches what
 * `**` followed by `*` would). A URL is in scope when it matches some `include` (if any are given) and no `exclude`.
 *
 * Why not picomatch (or minimatch, or a RegExp): picomatch gives `?`, `[…]`, `{a,b}`, `!`, `+(…)` meanings that the
 * options only partly turn off (`?` always matches one character), treats `**` as "any directories" only when it is
 * a whole path segment (`/docs**` and `**.pdf` are single-star there), and compiles to a backtracking RegExp, so a
 * pattern such as `**a**a**a**a**b` against a long URL takes time exponential in its stars. Here each list of
 * patterns is one automaton: the patterns' states run side by side (a bit-parallel NFA, no backtracking), and the
 * sets of states met are cached as DFA states, so a URL costs one table lookup per character once the DFA is warm,
 * and at most one NFA step (a few operations per 32 pattern characters) per character when it is not.
 */
export interface Scope {
  /** True when a discovered URL (normalized) may be followed. */
  allows(url: string): boolean;
}

/** The scope of a crawl without patterns. */
export const EVERYTHING: Scope = { allows: () => true };

/** A pattern that can never match a normalized URL, with why; thrown by compileScope. */
export class PatternError extends Error {
  constructor(
    readonly field: 'include' | 'exclude',
    readonly index: number,
    readonly pattern: string,
    reason: string,
  ) {
    super(`${field}[${index}] ${JSON.stringify(pattern)} ${reason}`);
    this.name = 'PatternError';
  }
}

/**
 * Characters no normalized URL holds (the WHATWG serializer percent-encodes them, or drops the fragment): a pattern
 * with one would silently match nothing, which is a mistake worth a 400 rather than an empty crawl.
 */
const NEVER_IN_URL = /[\u0000-\u0020\u007f-\uffff#"<>]/;

/** A pattern's scheme and authority, when it starts with them written out (up to the first `/`, `?` or `*`). */
const AUTHORITY = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?*]*)(.?)/;

/** Why a pattern can never match a normalized URL, or null when it can. */
export function patternProblem(pattern: string): string | null {
  const bad = NEVER_IN_URL.exec(pattern);
  if (bad) {
    const shown = bad[0] === ' ' ? 'a space' : /[\u0000-\u001f\u007f]/.test(bad[0]) ? 'a control character' : `"${bad[0]}"`;
    return `can never match: it holds ${shown}, which a normalized URL never does (write it percent-encoded, e.g. %20 for a space, %C3%A9 for é; a URL's #fragment is removed)`;
  }
  // The URL parser lower-cases the scheme and host and drops the default port: a pattern spelling them otherwise
  // would match nothing.
  const authority = AUTHORITY.exec(pattern);
  if (!authority) return null;
  const [, scheme, rest, next] = authority as unknown as [string, string, string, string];
  if (/[A-Z]/.test(scheme)) return `can never match: a normalized URL's scheme is lower-case (${scheme.toLowerCase()}://)`;
  const host = rest.slice(rest.lastIndexOf('@') + 1);
  if (/[A-Z]/.test(host)) return `can never match: a normalized URL's host is lower-case (${host.toLowerCase()})`;
  const defaultPort = scheme === 'https' ? ':443' : scheme === 'http' ? ':80' : null;
  if (defaultPort !== null && next !== '*' && host.endsWith(defaultPort)) {
    return `can never match: a normalized URL leaves out the default port (${scheme}://${host.slice(0, -defaultPort.length)})`;
  }
  return null;
}

/** Compiles a crawl's patterns; throws PatternError naming the first pattern that can never match. */
export function compileScope(options: Pick<CrawlOptions, 'include' | 'exclude'>): Scope {
  for (const field of ['include', 'exclude'] as const) {
    (options[field] ?? []).forEach((pattern, i) => {
      const problem = patternProblem(pattern);
      if (problem) throw new PatternError(field, i, pattern, problem);
    });
  }
  return buildScope(options);
}

function buildScope({ include = [], exclude = [] }: Pick<CrawlOptions, 'include' | 'exclude'>): Scope {
  if (include.length === 0 && exclude.length === 0) return EVERYTHING;
  const includes = include.length > 0 ? new PatternSet(include) : null;
  const excludes = exclude.length > 0 ? new PatternSet(exclude) : null;
  return { allows: (url) => (includes === null || includes.matches(url)) && (excludes === null || !excludes.matches(url)) };
}

/** True when `url` matches `pattern` (one pattern; for tests and one-off checks). */
export function matchesPattern(pattern: string, url: string): boolean {
  return new PatternSet([pattern]).matches(url);
}

/** Compiled scopes by crawl id: a crawl's patterns never change, so each is compiled once per container. */
const compiled = new Map<string, Scope>();
/** Crawls whose scopes are kept; the oldest compiled is dropped first (each pattern list's DFA stays under ~2 MB). */
const MAX_COMPILED = 64;

/**
 * The crawl's scope, compiled on its first use in this container and kept; `readOptions` (the crawl's recorded
 * options, null for an unknown crawl) is called only then. Patterns that cannot match were refused at submit;
 * should a recorded crawl hold one anyway, it matches nothing, as the contract's literal reading has it.
 */
export async function scopeFor(
  crawlId: string,
  readOptions: () => Promise<Pick<CrawlOptions, 'include' | 'exclude'> | null | undefined>,
): Promise<Scope> {
  const known = compiled.get(crawlId);
  if (known) return known;
  const options = await readOptions();
  if (!options) return EVERYTHING;
  const scope = buildScope(options);
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(crawlId, scope);
  return scope;
}

/**
 * Whether a discovered URL (a link, a sitemap entry; normalized) is within the crawl's include/exclude patterns,
 * the crawl's compiled patterns kept by `crawlId`. Seeds are never filtered, so callers pass discovered URLs only.
 */
export async function inScope(
  url: string,
  crawlId: string,
  readOptions: () => Promise<Pick<CrawlOptions, 'include' | 'exclude'> | null | undefined>,
): Promise<boolean> {
  return (await scopeFor(crawlId, readOptions)).allows(url);
}

const enum Token {
  /** `*`: any run of characters other than `/`. */
  Star = -1,
  /** `**`: any run of characters. */
  AnyStar = -2,
}

/**
 * Memory for one pattern list's DFA states, and at most this many of them; past that, steps are computed as they
 * come (NFA speed, still no backtracking).
 */
const MAX_DFA_BYTES = 2 * 1024 * 1024;
const MAX_DFA_STATES = 1024;
/** Transitions are tabled for ASCII, which is all a normalized URL holds; anything else is stepped directly. */
const TABLE = 128;
const SLASH = 0x2f;

interface DfaState {
  bits: Uint32Array;
  accepting: boolean;
  dead: boolean;
  /** Index of the next state per ASCII character, -1 while not computed; null for a state not kept. */
  next: Int32Array | null;
}

/**
 * Any-of-several patterns, each anchored at both ends. NFA state `offset(p) + i` means "pattern p's first i tokens
 * have matched"; each pattern's last state (all its tokens matched) accepts. On a character, a state before a
 * literal equal to it moves one on, a state before a star stays (a `*` not on `/`), and a state before a star also
 * stands for the state after it (the star matching nothing: stars never follow one another, so one step of that
 * closure is enough).
 */
class PatternSet {
  private readonly words: number;
  /** Per character code in some pattern: the states before a literal of that character. */
  private readonly literal = new Map<number, Uint32Array>();
  private readonly stars: Uint32Array;
  private readonly anyStars: Uint32Array;
  private readonly accept: Uint32Array;
  private readonly states: DfaState[] = [];
  private readonly index = new Map<string, number>();
  private readonly maxStates: number;

  constructor(patterns: readonly string[]) {
    const tokenized = patterns.map(tokenize);
    const size = tokenized.reduce((n, tokens) => n + tokens.length + 1, 0);
    this.words = Math.ceil(size / 32);
    const mask = () => new Uint32Array(this.words);
    this.stars = mask();
    this.anyStars = mask();
    this.accept = mask();
    const start = mask();
    let offset = 0;
    for (const tokens of tokenized) {
      setBit(start, offset);
      tokens.forEach((token, i) => {
        const at = offset + i;
        if (token === Token.Star || token === Token.AnyStar) {
          setBit(this.stars, at);
          if (token === Token.AnyStar) setBit(this.anyStars, at);
        } else {
          let bits = this.literal.get(token);
          if (!bits) this.literal.set(token, (bits = mask()));
          setBit(bits, at);
        }
      });
      offset += tokens.length;
      setBit(this.accept, offset);
      offset++;
    }
    this.maxStates = Math.max(1, Math.min(MAX_DFA_STATES, Math.floor(MAX_DFA_BYTES / (this.words * 4 + TABLE * 4))));
    this.closeOver(start);
    this.intern(start);
  }

  matches(url: string): boolean {
    let state = this.states[0]!;
    for (let i = 0; i < url.length; i++) {
      const c = url.charCodeAt(i);
      const table = c < TABLE ? state.next : null;
      const known = table ? table[c]! : -1;
      if (known >= 0) state = this.states[known]!;
      else {
        const bits = this.step(state.bits, c);
        const to = this.intern(bits);
        if (to < 0) state = this.state(bits, false);
        else {
          if (table) table[c] = to;
          state = this.states[to]!;
        }
      }
      if (state.dead) return false;
    }
    return state.accepting;
  }

  /** The NFA's step on one character: literals that match move on, stars stay (a `*` not on `/`), then the closure. */
  private step(from: Uint32Array, c: number): Uint32Array {
    const out = new Uint32Array(this.words);
    const lit = this.literal.get(c);
    const stay = c === SLASH ? this.anyStars : this.stars;
    let carry = 0;
    for (let w = 0; w < this.words; w++) {
      const moved = lit ? from[w]! & lit[w]! : 0;
      out[w] = ((moved << 1) | carry | (from[w]! & stay[w]!)) >>> 0;
      carry = moved >>> 31;
    }
    this.closeOver(out);
    return out;
  }

  /** A star may match nothing: a state before a star also stands for the state after it. */
  private closeOver(bits: Uint32Array): void {
    let carry = 0;
    for (let w = 0; w < this.words; w++) {
      const before = bits[w]! & this.stars[w]!;
      bits[w] = (bits[w]! | (before << 1) | carry) >>> 0;
      carry = before >>> 31;
    }
  }

  /** The DFA state for a set of NFA states: its index, made if new; -1 when the table is full. */
  private intern(bits: Uint32Array): number {
    const key = String.fromCharCode(...new Uint16Array(bits.buffer));
    const known = this.index.get(key);
    if (known !== undefined) return known;
    if (this.states.length >= this.maxStates) return -1;
    const state = this.state(bits, true);
    this.states.push(state);
    this.index.set(key, this.states.length - 1);
    return this.states.length - 1;
  }

  private state(bits: Uint32Array, kept: boolean): DfaState {
    let accepting = false;
    let dead = true;
    for (let w = 0; w < this.words; w++) {
      if (bits[w]! & this.accept[w]!) accepting = true;
      if (bits[w]) dead = false;
    }
    return { bits, accepting, dead, next: kept ? new Int32Array(TABLE).fill(-1) : null };
  }
}

/** A pattern's tokens: character codes, and a star for each run of `*` (one `*` a Star, two or more an AnyStar). */
function tokenize(pattern: string): number[] {
  const tokens: number[] = [];
  for (let i = 0; i < pattern.length; ) {
    if (pattern[i] !== '*') {
      tokens.push(pattern.charCodeAt(i++));
      continue;
    }
    let run = 0;
    while (pattern[i] === '*') (run++, i++);
    tokens.push(run === 1 ? Token.Star : Token.AnyStar);
  }
  return tokens;
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! |= 1 << (i & 31);
}
