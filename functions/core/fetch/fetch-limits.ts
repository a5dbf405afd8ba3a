/** The fetch limits and their safe defaults, apart from the fetcher so configuration code can use them cheaply. */
export interface FetchLimits {
  /** Deadline for the whole fetch: connect, headers, every redirect and the body (so a slow drip stops too). */
  timeoutMs: number;
  /** Deadline for one TCP (and TLS) connection to be set up. */
  connectTimeoutMs: number;
  /** Deadline for a response's headers once the request is sent. */
  headersTimeoutMs: number;
  /** Cap on the body after content decoding, so a compression bomb stops at the cap too. */
  maxBodyBytes: number;
  maxRedirects: number;
  allowPrivateNetwork: boolean;
  /**
   * The User-Agent every request sends (pages, robots.txt, sitemaps): the deployment's crawler.userAgent; its product
   * token is the name robots.txt groups are matched against. DEFAULT_USER_AGENT when not given.
   */
  userAgent?: string;
  /**
   * One request's, not the deployment's: its host's turn (core/polite/). The request's connection may be opened
   * before; its bytes are sent at `turn.at`, not before, and not after `at + slackMs` (the request is then not sent
   * at all: LATE_START). It is the first request's: each redirect's request gets its own from `admitRedirect`.
   */
  turn?: RequestTurn;
  /**
   * One request's: called before each redirect is followed, with the hop's URL, for the hop's own admission
   * (robots.txt, its host's turn). Resolves with the hop's turn (none: send at once), or throws a FetchError that
   * ends the fetch (ROBOTS_DISALLOWED…). Time spent in it does not count against the fetch's deadline.
   */
  admitRedirect?: (url: string) => Promise<RequestTurn | undefined>;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  timeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 8_000,
  maxBodyBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
  allowPrivateNetwork: false,
};

/** A request's turn on its host, as the fetcher keeps to it (FetchLimits.turn). */
export interface RequestTurn {
  /** Epoch ms at which the request is sent. */
  at: number;
  /** How late after `at` it may still be sent. */
  slackMs: number;
  /**
   * The connection was ready only after `at + slackMs` (a slow lookup or handshake): asks for the turn to be moved
   * to `now`. The new time to send at, or null when it cannot be moved (a turn was planned after it): LATE_START.
   */
  late?: (now: number) => Promise<number | null>;
}
