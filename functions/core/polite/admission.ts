import { setTimeout as sleep } from 'node:timers/promises';
import { FetchError } from '../fetch/http-client.js';
import type { RobotsFetchOutcome } from '../fetch/robots-fetch.js';
import type { CrawlOptions } from '../model/crawl.js';
import type { FetchLimits, RequestTurn } from '../fetch/fetch-limits.js';
import { hostKeyOf, LATE_START_MS, MAX_PENALTY_MS, needsTurn, PRECONNECT_MS, throttleSignalOf, WAIT_IN_PROCESS_MS } from './pacing-policy.js';
import type { Turn } from './ports.js';
import type { HostPacer } from './ports.js';
import { originOf, robotsDecision } from './robots-gate.js';
import type { RobotsSource, RobotsTurn } from './robots-source.js';

// Admission: may a request for this URL start now? robots.txt first (no request is spent on a URL it disallows),
// then the host's turn. The one entry point for every request a crawl makes (pages, and sitemaps: fetchPolitely).

/** The deployment's politeness settings (functions/settings/politeness.ts). */
export interface PoliteSettings {
  userAgent: string;
  /** For a crawl recorded before it had its own hostDelayMs. */
  hostDelayMs: number;
  maxCrawlDelaySeconds: number;
  /** AutoThrottle's longest interval (MAX_PENALTY_MS when not given); 0 turns it off. */
  maxThrottleMs?: number;
}

export interface PoliteDeps {
  settings: PoliteSettings;
  pacer: HostPacer;
  robots: RobotsSource;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

export interface AdmitOptions {
  /** The slot this URL reserved earlier (the `wait` it came back from). */
  reservation?: number | undefined;
  /**
   * Return PRECONNECT_MS before the turn, for a caller that gives the turn to its fetch (FetchLimits.turn), which
   * opens its connection meanwhile and sends at the turn. Otherwise admit returns at the turn.
   */
  preconnect?: boolean;
  /**
   * Whether the request's crawl was cancelled (at most seconds stale): asked once the turn is here, right before a
   * request would start, so no request starts for a crawl long after its cancel was answered, however long admission
   * waited. A cancelled crawl's admission fails CANCELLED; its robots.txt is then not fetched either.
   */
  cancelled?: () => Promise<boolean>;
}

/** What admission reads of a crawl: its robotsTxt and hostDelayMs (the deployment's when the crawl has none). */
export type CrawlPoliteness = Pick<CrawlOptions, 'robotsTxt' | 'hostDelayMs'>;

export type Admission =
  /**
   * Start the request: robots.txt allows it and the host's turn is here (or PRECONNECT_MS away, when asked). With a
   * turn, give it to the fetch (FetchLimits.turn): the fetch opens its connection now and sends at the turn; a request
   * it could not send in its turn fails LATE_START (admit again for another).
   */
  | { kind: 'go'; turn?: RequestTurn }
  /**
   * Not now: come back at `until` (epoch ms) with `reservation` if there is one (the host's slot this URL holds).
   * A consumer sends the URL's message again with that delay; one process sleeps (admitHere).
   */
  | { kind: 'wait'; until: number; reservation?: number }
  /** Never fetch it, or not now: fail the URL with `error`; `transient`: retry it as any transient failure. */
  | { kind: 'fail'; error: { code: string; message: string }; transient: boolean };

/**
 * Whether a request for `url` may start now, for a crawl with these options: robots.txt (unless the crawl ignores it)
 * — ROBOTS_DISALLOWED, ROBOTS_UNREACHABLE (transient until the last attempt), CRAWL_DELAY_TOO_LONG, or the origin's
 * own failure (DNS…) — then one claim on the host's pace with interval max(hostDelayMs, Crawl-delay, the host's
 * penalty); a crawl with hostDelayMs 0 on a host with neither claims nothing. `reservation` is the slot the URL
 * reserved earlier (the `wait` it came back from).
 */
export async function admit(url: string, crawl: CrawlPoliteness, deps: PoliteDeps, options: AdmitOptions = {}): Promise<Admission> {
  // A cancelled crawl's URL claims nothing: no turn, and no reservation that would hold its host for other crawls.
  if (await options.cancelled?.()) return CANCELLED_ADMISSION;
  const host = hostKeyOf(url);
  const hostDelayMs = crawl.hostDelayMs ?? deps.settings.hostDelayMs;
  let reservation = options.reservation;
  let crawlDelayMs = 0;
  if ((crawl.robotsTxt ?? 'obey') === 'obey') {
    const lookup = await deps.robots.lookup(
      originOf(url),
      // Claimed even at hostDelayMs 0: the host's state then knows when robots.txt was fetched, and the page after it
      // keeps the Crawl-delay the file asks for from that request too.
      async () => {
        const turn = await takeTurn(host, hostDelayMs, reservation, deps, { always: true, preconnect: options.preconnect === true });
        // Cancelled meanwhile: robots.txt is not fetched for it; the URL comes back and ends CANCELLED.
        if (turn.kind === 'go' && (await options.cancelled?.())) return { kind: 'wait', until: (deps.now ?? Date.now)() + 1_000 };
        return turn;
      },
      (outcome) => void reportRobotsResponse(host, outcome, deps),
    );
    if (lookup.kind === 'wait') return lookup;
    if (lookup.tookTurn) reservation = undefined;
    const decision = robotsDecision(lookup.known, url, deps.settings.maxCrawlDelaySeconds);
    if (decision.kind === 'fail') return decision;
    crawlDelayMs = decision.crawlDelayMs;
    // robots.txt may have taken a while (a fetch, or another process's): asked again before the page's claim.
    if (await options.cancelled?.()) return CANCELLED_ADMISSION;
  }
  const turn = await takeTurn(host, Math.max(hostDelayMs, crawlDelayMs), reservation, deps, { preconnect: options.preconnect === true });
  if (turn.kind === 'go' && (await options.cancelled?.())) return CANCELLED_ADMISSION;
  return turn;
}

const CANCELLED_ADMISSION: Admission = {
  kind: 'fail',
  error: { code: 'CANCELLED', message: 'the crawl was cancelled before this URL was fetched' },
  transient: false,
};

/** How long a redirect's hop waits in the process for its host's turn (redirectAdmission); a later turn ends the fetch HOST_BUSY. */
export const REDIRECT_WAIT_MS = 5_000;

/** The error code of a fetch ended by a redirect whose host's turn is later than REDIRECT_WAIT_MS. */
export const HOST_BUSY = 'HOST_BUSY';

export interface RedirectAdmission {
  /** FetchLimits.admitRedirect for one fetch. */
  admit: (url: string) => Promise<RequestTurn | undefined>;
  /** Set when a hop ended the fetch (HOST_BUSY) because its host's turn is later: when it is (epoch ms). */
  busyUntil?: number;
}

/**
 * Each redirect's hop admitted as the first request was (FetchLimits.admitRedirect): robots.txt of the hop's origin
 * (a disallowed hop ends the fetch ROBOTS_DISALLOWED, as the URL itself would) and a turn on the hop's host, waited
 * for here up to `maxWaitMs`; a later turn ends the fetch HOST_BUSY (transient) with `busyUntil` set, for the caller
 * to come back then. So a redirect never reaches a path or a host sooner than the URL itself could.
 */
export function redirectAdmission(crawl: CrawlPoliteness, deps: PoliteDeps, options: Pick<AdmitOptions, 'cancelled'> & { maxWaitMs?: number } = {}): RedirectAdmission {
  const maxWaitMs = options.maxWaitMs ?? REDIRECT_WAIT_MS;
  const now = deps.now ?? Date.now;
  const hops: RedirectAdmission = {
    admit: async (url) => {
      const { admission } = await admitWaiting(url, crawl, deps, { preconnect: true, ...(options.cancelled ? { cancelled: options.cancelled } : {}) }, now() + maxWaitMs);
      if (admission.kind === 'go') return admission.turn;
      if (admission.kind === 'fail') throw new FetchError(admission.error.code, `redirected to ${url}: ${admission.error.message}`, url, null, admission.transient);
      hops.busyUntil = admission.until;
      const seconds = Math.ceil((admission.until - now()) / 1000);
      throw new FetchError(HOST_BUSY, `redirected to ${url}, whose host's next turn is ${seconds} s away`, url, null, true);
    },
  };
  return hops;
}

/** admit, in one process that may wait as long as it takes (`crawler fetch`): every `wait` is slept out here. */
export async function admitHere(url: string, crawl: CrawlPoliteness, deps: PoliteDeps, options: Pick<AdmitOptions, 'preconnect'> = {}): Promise<Exclude<Admission, { kind: 'wait' }>> {
  const { admission } = await admitWaiting(url, crawl, deps, options, Infinity);
  if (admission.kind === 'wait') throw new Error('unreachable: admitWaiting sleeps out every wait before Infinity');
  return admission;
}

/**
 * admit, with each `wait` that ends by `until` (epoch ms) slept out here and admitted again. A URL holding a slot wakes
 * WAIT_IN_PROCESS_MS before it, so admit's own wait for the turn, and the cancel check right before it, land the
 * request in the slot rather than a claim's round trip after it; a URL holding none comes back when told. A wait
 * ending later is handed back. `first`: the URL's first admission, already made with options.reservation. Also gives
 * the slot the URL held for the admission it ends with (a caller ending it CANCELLED lets its host's queue go).
 */
export async function admitWaiting(
  url: string,
  crawl: CrawlPoliteness,
  deps: PoliteDeps,
  options: AdmitOptions,
  until: number,
  first?: Admission,
): Promise<{ admission: Admission; reservation: number | undefined }> {
  const now = deps.now ?? Date.now;
  let reservation = options.reservation;
  let admission = first ?? (await admit(url, crawl, deps, options));
  while (admission.kind === 'wait' && admission.until <= until) {
    await (deps.sleep ?? sleep)(Math.max(0, admission.until - now() - (admission.reservation !== undefined ? WAIT_IN_PROCESS_MS : 0)));
    reservation = admission.reservation;
    admission = await admit(url, crawl, deps, { ...options, reservation });
  }
  return { admission, reservation };
}

/** AutoThrottle: tells the host's pace how a request went (429, 503 or a timeout slow the host down). Never throws. */
export async function reportResponse(url: string, response: { status: number | null; errorCode?: string | undefined }, deps: PoliteDeps): Promise<void> {
  await report(hostKeyOf(url), response.status, response.errorCode, deps);
}

/** What fetchPolitely gives its fetch: FetchLimits' per-request fields, the turn and each redirect's admission. */
export type PoliteRequest = Required<Pick<FetchLimits, 'admitRedirect'>> & Pick<FetchLimits, 'turn'>;

/**
 * A paced, robots-checked fetch for requests other than pages (a sitemap): admit, then `fetch` in the host's turn,
 * each redirect admitted too (redirectAdmission), and its response told to AutoThrottle. Anything but `go` is handed
 * back as admit gives it: the caller waits (a consumer re-sends its message with the delay and the reservation) or
 * fails; a redirect whose host's turn is later is a `wait` too. A FetchError `fetch` throws is reported and thrown on.
 */
export async function fetchPolitely<T extends { status: number }>(
  url: string,
  crawl: CrawlPoliteness,
  deps: PoliteDeps,
  fetch: (request: PoliteRequest) => Promise<T>,
  options: AdmitOptions = {},
): Promise<{ kind: 'fetched'; response: T } | Exclude<Admission, { kind: 'go' }>> {
  let reservation = options.reservation;
  for (let turns = 1; ; turns++) {
    const admission = await admit(url, crawl, deps, { ...options, reservation, preconnect: true });
    if (admission.kind !== 'go') return admission;
    const hops = redirectAdmission(crawl, deps, options.cancelled ? { cancelled: options.cancelled } : {});
    try {
      const response = await fetch({ turn: admission.turn, admitRedirect: hops.admit });
      await reportResponse(url, { status: response.status }, deps);
      return { kind: 'fetched', response };
    } catch (err) {
      // `fetch` gave the turn to the request, which could not leave in it: another turn, or, a process this busy, a
      // wait (a moment, as a wait for a turn: it uses no attempt).
      if (err instanceof FetchError && err.code === 'LATE_START') {
        reservation = undefined;
        if (turns < MAX_TURNS) continue;
        return { kind: 'wait', until: (deps.now ?? Date.now)() + 2_000 };
      }
      if (err instanceof FetchError && err.code === HOST_BUSY && hops.busyUntil !== undefined) return { kind: 'wait', until: hops.busyUntil };
      if (err instanceof FetchError) await reportResponse(url, { status: err.status, errorCode: err.code }, deps);
      throw err;
    }
  }
}

/** Turns one request takes at most when it keeps missing them (LATE_START): a busy process. */
export const MAX_TURNS = 3;

/**
 * The host's turn for one request: one claim, then the wait in the process until PRECONNECT_MS before it (the fetch
 * opens its connection meanwhile and sends at the turn). A turn already past its slack (a slow claim, a busy process)
 * is moved to now if no turn was planned after it, else given up for another, since the next request may start one
 * interval after the turn's time.
 */
async function takeTurn(
  host: string,
  intervalMs: number,
  reservation: number | undefined,
  deps: PoliteDeps,
  { always = false, preconnect = false }: { always?: boolean; preconnect?: boolean } = {},
): Promise<RobotsTurn> {
  if (!always && reservation === undefined && !needsTurn(intervalMs, deps.pacer.knownPenaltyMs(host))) return { kind: 'go' };
  const now = deps.now ?? Date.now;
  let turn = await deps.pacer.claim(host, { now: now(), intervalMs, reservation });
  for (let tries = 0; tries < 3; tries++) {
    if (turn.kind === 'later') return { kind: 'wait', until: turn.at, ...(turn.held ? { reservation: turn.at } : {}) };
    const lead = turn.at - (preconnect ? PRECONNECT_MS : 0) - now();
    if (lead > 0) await (deps.sleep ?? sleep)(lead);
    if (now() - turn.at <= LATE_START_MS) return { kind: 'go', turn: requestTurn(host, turn, intervalMs, deps) };
    turn = await deps.pacer.slide(host, turn, { now: now(), intervalMs });
  }
  return { kind: 'wait', until: now() + WAIT_IN_PROCESS_MS };
}

/** The turn as the fetch keeps to it; a connection ready too late moves it (slide) if it can, to a time that is close. */
function requestTurn(host: string, turn: Extract<Turn, { kind: 'start' }>, intervalMs: number, deps: PoliteDeps): RequestTurn {
  return {
    at: turn.at,
    slackMs: LATE_START_MS,
    late: async (now) => {
      const moved = await deps.pacer.slide(host, turn, { now, intervalMs });
      return moved.kind === 'start' && moved.at - now <= WAIT_IN_PROCESS_MS ? moved.at : null;
    },
  };
}

async function report(host: string, status: number | null, errorCode: string | undefined, deps: PoliteDeps): Promise<void> {
  const signal = throttleSignalOf(status, errorCode);
  const maxPenaltyMs = deps.settings.maxThrottleMs ?? MAX_PENALTY_MS;
  if (signal === null || maxPenaltyMs === 0 || (signal === 'ok' && deps.pacer.knownPenaltyMs(host) === 0)) return;
  await deps.pacer.report(host, signal, maxPenaltyMs).catch(() => undefined);
}

function reportRobotsResponse(host: string, outcome: RobotsFetchOutcome, deps: PoliteDeps): Promise<void> {
  return outcome.kind === 'response' ? report(host, outcome.status, undefined, deps) : report(host, null, outcome.code, deps);
}
