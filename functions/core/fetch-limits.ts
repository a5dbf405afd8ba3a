/** The fetch limits and their safe defaults, apart from the fetcher so configuration code can use them cheaply. */
export interface FetchLimits {
  /** Deadline for the whole fetch: connect, headers, every redirect and the body. */
  timeoutMs: number;
  /** Cap on the body after content decoding, so a compression bomb stops at the cap too. */
  maxBodyBytes: number;
  maxRedirects: number;
  allowPrivateNetwork: boolean;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  timeoutMs: 10_000,
  maxBodyBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
  allowPrivateNetwork: false,
};
