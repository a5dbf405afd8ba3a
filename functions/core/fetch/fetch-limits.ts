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
   * One request's, not the deployment's: the epoch ms by which the request must be sent (its host's turn, from
   * core/polite/). Checked as the request is about to leave (a reused socket) or as its connection opens: a request
   * later than that is not sent and fails LATE_START, and the caller takes another turn. Redirects are not held to it.
   */
  startBy?: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  timeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 8_000,
  maxBodyBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
  allowPrivateNetwork: false,
};
